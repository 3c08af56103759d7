// The pssh boxes of an init segment as mp4box.js (gpac's parser, not ours)
// reads them, each with its bytes in the file and its data: used by the
// encryption and SPEKE tests.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as MP4Box from 'mp4box';

export function psshBoxes(file) {
    const buf = fs.readFileSync(file);
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
    ab.fileStart = 0;
    const mp4 = MP4Box.createFile();
    mp4.appendBuffer(ab);
    mp4.flush();
    assert.ok(mp4.moov, `${file}: mp4box.js found no moov`);
    return mp4.moov.boxes.filter((b) => b.type === 'pssh').map((b) => ({ ...b,
        bytes: buf.subarray(b.start, b.start + b.size),
        data: b.protection_data ? Buffer.from(b.protection_data) : Buffer.alloc(0) }));
}

// The same by system ID (hex, no dashes).
export function psshBySystem(file) {
    return Object.fromEntries(psshBoxes(file).map((b) => [b.system_id, b]));
}
