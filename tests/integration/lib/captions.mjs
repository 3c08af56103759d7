// CEA-608/708 captions in a media file, read with the FFmpeg CLI: the
// cues FFmpeg's ccaption_dec decodes, and whether ffprobe saw any.  Shared
// by captions.test.mjs (VOD) and live_captions.test.mjs (live).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as C from './cirrus.mjs';

// The captions of a file as cues {start, end, text} (seconds), decoded by
// FFmpeg's ccaption_dec through the movie source's subcc output.
export function readCaptions(file) {
    const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error',
        '-f', 'lavfi', '-i', `movie=${file}[out0+subcc]`, '-map', '0:s',
        '-f', 'srt', '-'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split(/\n\n+/).filter((b) => b.trim()).map((b) => {
        const lines = b.trim().split('\n');
        const [start, end] = lines[1].split(' --> ').map((t) =>
            C.vttTime(t.replace(',', '.')));
        return { start, end,
            text: lines.slice(2).join('\n').replace(/<[^>]*>|\{[^}]*\}/g, '') };
    });
}

// ffprobe's stream line says "Closed Captions" when the frames it decoded
// while probing had cc_data (-show_streams' closed_captions field stays 0:
// its own decoder has decoded nothing).
export function hasCaptions(file) {
    const r = spawnSync('ffprobe', ['-hide_banner', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const line = r.stderr.split('\n').find((l) => / Video: /.test(l));
    assert.ok(line, r.stderr);
    return line.includes('Closed Captions');
}
