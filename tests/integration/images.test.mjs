// Still images through the `image` preset: EXIF orientation applied, alpha
// kept in WebP, the preset's widths without upscaling.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import * as C from './lib/cirrus.mjs';

function presetWidths() {
    try {
        return C.presetImageWidths(C.loadPreset('image')).map(Number);
    } catch {
        return null;
    }
}

// Every image rendition of a job: [{ file, ext, width (from the name), probe }].
async function images(sampleName) {
    const job = await C.transcodeCached(sampleName, 'image');
    const dir = path.join(C.versionDir(job.dir), 'images');
    const files = fs.readdirSync(dir).filter((f) => /^\d+\.(jpg|webp)$/.test(f));
    assert.ok(files.length >= 2, `renditions in ${dir}: ${files.join(' ')}`);
    const manifest = JSON.parse(C.readText(path.join(dir, 'manifest.json')));
    // Every file the manifest names exists (whatever its exact schema).
    const named = C.imageNames(manifest);
    assert.ok(named.length >= files.length, 'manifest.json names the files');
    for (const n of named)
        assert.ok(fs.existsSync(path.join(dir, path.basename(n))), n);
    return files.map((f) => {
        const [w, ext] = f.split('.');
        return { file: f, ext, width: Number(w),
            stream: C.videoStream(C.ffprobe(path.join(dir, f))) };
    });
}

// Output widths are the preset widths that fit in srcWidth, perhaps plus
// srcWidth itself in place of the larger ones; never wider than the source.
function checkWidths(list, srcWidth) {
    const widths = [...new Set(list.map((i) => i.width))];
    for (const i of list) {
        assert.equal(i.stream.width, i.width, `${i.file} is ${i.width} wide`);
        assert.ok(i.width <= srcWidth, `${i.file}: no upscale past ${srcWidth}`);
        assert.equal(i.stream.codec_name, i.ext === 'jpg' ? 'mjpeg' : 'webp',
            i.file);
    }
    for (const ext of ['jpg', 'webp'])
        assert.deepEqual(list.filter((i) => i.ext === ext).map((i) => i.width)
            .sort((a, b) => a - b), widths.sort((a, b) => a - b),
        `${ext} for every width`);
    const pw = presetWidths();
    if (pw && pw.length) {
        for (const w of pw.filter((x) => x <= srcWidth))
            assert.ok(widths.includes(w), `preset width ${w} present`);
        for (const w of widths)
            assert.ok(pw.includes(w) || w === srcWidth, `width ${w} expected`);
    }
}

describe('images (preset image)', () => {
    test('EXIF orientation 6 is applied: portrait output', async () => {
        // The raw JPEG is 800x600; Orientation=6 shows it as 600x800.
        const raw = C.videoStream(C.ffprobe(C.sample('still_exif.jpg')));
        assert.equal(raw.width, 800);
        const list = await images('still_exif.jpg');
        checkWidths(list, 600);
        for (const i of list) {
            const { width, height } = i.stream;
            assert.ok(height > width, `${i.file} ${width}x${height} portrait`);
            assert.ok(Math.abs(width / height - 0.75) < 0.01,
                `${i.file} ${width}x${height} keeps 3:4`);
        }
    });

    test('PNG alpha is kept in WebP', async () => {
        const list = await images('alpha.png');
        checkWidths(list, 640);
        const webp = list.filter((i) => i.ext === 'webp');
        assert.ok(webp.length > 0);
        for (const i of webp)
            assert.match(i.stream.pix_fmt, /^yuva|a$|^rgba|^argb|^bgra/,
                `${i.file} pix_fmt ${i.stream.pix_fmt} has alpha`);
    });

    test('6000x4000 gives every preset width, in proportion', async () => {
        const list = await images('big_6000x4000.jpg');
        checkWidths(list, 6000);
        for (const i of list)
            assert.ok(Math.abs(i.stream.height - (i.width * 2) / 3) <= 2,
                `${i.file} ${i.stream.width}x${i.stream.height} keeps 3:2`);
    });
});
