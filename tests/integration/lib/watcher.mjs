// A watcher of an output bucket for the "published outputs never change"
// invariant (README).  It polls the bucket through the rig's s3Direct
// endpoint (the SigV4 verifier, no fault proxy in between) with the AWS SDK
// and records the ETag of every key over time.  It fails on
//  - any object that changes bytes (ETag) once seen, but for the few keys
//    that are meant to move: an asset's top-level master.m3u8,
//    manifest.mpd, images/manifest.json and a thumbnails-only asset's
//    thumbs.vtt, and the worker's .published/ markers — every other object
//    is served immutable (a .superseded/ record is written once, then
//    deleted);
//  - above all, any object referenced by a master.m3u8 or manifest.mpd
//    (directly, or through media playlists, init segments, segments, the
//    image playlist, its sprites and the sprite WebVTT) that changes after
//    that manifest was seen;
//  - a manifest whose references are missing from the bucket.
//
//   const w = watchBucket(rig, { bucket: 'cirrus-out', prefix: 'vod/' });
//   ...                     // run jobs, faults, races
//   const report = await w.stop();
//   assert.deepEqual(report.violations, []);
//
// report: { polls, keys, changes: [{key, from, to, at}], published:
// Map(manifest key -> Set of referenced keys), masters: [{key, etag, at,
// text}], violations: [string] }.
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client }
    from '@aws-sdk/client-s3';

const MUTABLE = /(^|\/)(master\.m3u8|manifest\.mpd|images\/manifest\.json|thumbs\.vtt)$|(^|\/)\.published\//;

// A key is one of an asset's top-level (moving) objects unless it lies in
// a published version folder.
function isMutable(key) {
    return MUTABLE.test(key) && !/(^|\/)v\/[A-Za-z0-9_-]+\//.test(key);
}

export function s3Client(rig) {
    return new S3Client({
        endpoint: rig.s3Direct, region: rig.region, forcePathStyle: true,
        credentials: { accessKeyId: rig.accessKey, secretAccessKey: rig.secretKey },
        maxAttempts: 3,
    });
}

// URIs a playlist lists: tag-less lines and URI="..." attributes.
export function playlistUris(text) {
    const out = [];
    for (const line of text.split('\n')) {
        const l = line.trim();
        if (!l)
            continue;
        if (l.startsWith('#'))
            for (const m of l.matchAll(/URI="([^"]+)"/g))
                out.push(m[1]);
        else
            out.push(l);
    }
    return out;
}

// Every file an MPD (SegmentTemplate + SegmentTimeline, $RepresentationID$
// and $Number$) names, relative to the MPD's folder.
export function mpdUris(xml) {
    const out = [];
    const base = /<BaseURL>([^<]*)<\/BaseURL>/.exec(xml)?.[1] || '';
    const attr = (s, n) => new RegExp(`\\b${n}="([^"]*)"`).exec(s)?.[1];
    for (const set of xml.split('<AdaptationSet').slice(1)) {
        const tpl = /<SegmentTemplate\b([^>]*)>/.exec(set)?.[1];
        if (!tpl)
            continue;
        const media = attr(tpl, 'media'), init = attr(tpl, 'initialization');
        const start = Number(attr(tpl, 'startNumber') ?? 1);
        let count = 0;
        for (const s of set.matchAll(/<S\b([^>]*)\/>/g))
            count += 1 + Number(attr(s[1], 'r') ?? 0);
        const ids = [...set.matchAll(/<Representation\b[^>]*\bid="([^"]+)"/g)]
            .map((m) => m[1]);
        for (const id of ids) {
            const fill = (t, n) => t.replaceAll('$RepresentationID$', id)
                .replaceAll('$Number$', String(n));
            if (init)
                out.push(base + fill(init, 0));
            for (let n = start; media && n < start + count; n++)
                out.push(base + fill(media, n));
        }
    }
    return out;
}

// Image names a WebVTT sprite track lists (before any #xywh fragment).
export function vttUris(text) {
    return [...text.matchAll(/-->[^\n]*\n([^\n#]+)/g)].map((m) => m[1].trim());
}

export function watchBucket(rig, { bucket, prefix = '', intervalMs = 300 } = {}) {
    const s3 = s3Client(rig);
    const seen = new Map(); // key -> { etag, at }
    const protectedBy = new Map(); // key -> the manifest that referenced it
    const changes = [], violations = [], masters = [];
    const published = new Map();
    const checked = new Set(); // "key etag" of manifests already followed
    let polls = 0, stopping = false, failure = null;

    async function list() {
        const keys = new Map();
        let token;
        do {
            const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket,
                Prefix: prefix, ContinuationToken: token }));
            for (const o of r.Contents || [])
                keys.set(o.Key, o.ETag);
            token = r.IsTruncated ? r.NextContinuationToken : undefined;
        } while (token);
        return keys;
    }

    async function text(key) {
        const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return { body: await r.Body.transformToString(), etag: r.ETag };
    }

    // Every key a manifest references, followed through media playlists,
    // the image playlist and the sprite track.
    async function references(key, body, keys) {
        const dir = path.posix.dirname(key);
        const refs = new Set();
        const add = (from, uri) => refs.add(path.posix.normalize(
            path.posix.join(path.posix.dirname(from), uri)));
        if (key.endsWith('.mpd')) {
            for (const u of mpdUris(body))
                add(key, u);
            return refs;
        }
        for (const u of playlistUris(body)) {
            const k = path.posix.normalize(path.posix.join(dir, u));
            refs.add(k);
            if (!k.endsWith('.m3u8') || !keys.has(k))
                continue;
            const media = (await text(k)).body;
            for (const s of playlistUris(media))
                add(k, s);
            // the sprite WebVTT beside the image playlist (players use it)
            const vtt = path.posix.join(path.posix.dirname(k), 'thumbs.vtt');
            if (k.endsWith('/thumbs/images.m3u8') && keys.has(vtt)) {
                refs.add(vtt);
                for (const s of vttUris((await text(vtt)).body))
                    add(vtt, s);
            }
        }
        return refs;
    }

    async function poll() {
        const keys = await list();
        const now = Date.now();
        polls++;
        for (const [key, etag] of keys) {
            const old = seen.get(key);
            if (old && old.etag !== etag) {
                changes.push({ key, from: old.etag, to: etag, at: now });
                if (protectedBy.has(key))
                    violations.push(`${key} changed bytes (${old.etag} -> ${etag}) ` +
                        `after ${protectedBy.get(key)} referencing it was published`);
                else if (!isMutable(key))
                    violations.push(`${key} changed bytes (${old.etag} -> ${etag}): ` +
                        'an immutable object rewritten');
            }
            seen.set(key, { etag, at: old && old.etag === etag ? old.at : now });
        }
        for (const [key] of keys) {
            if (!/(^|\/)(master\.m3u8|manifest\.mpd)$/.test(key))
                continue;
            let m;
            try {
                m = await text(key);
            } catch {
                continue; /* replaced meanwhile: next poll */
            }
            if (checked.has(`${key} ${m.etag}`))
                continue;
            const refs = await references(key, m.body, keys);
            let missing = [...refs].filter((r) => !keys.has(r));
            if (missing.length) {
                // the listing may predate a newer manifest: look again
                const again = await list();
                missing = missing.filter((r) => !again.has(r));
                for (const r of refs)
                    if (again.has(r) && !keys.has(r))
                        seen.set(r, { etag: again.get(r), at: Date.now() });
            }
            for (const r of missing)
                violations.push(`${key} (${m.etag}) references ${r}, which is missing`);
            checked.add(`${key} ${m.etag}`);
            masters.push({ key, etag: m.etag, at: now, text: m.body });
            published.set(`${key} ${m.etag}`, refs);
            for (const r of refs)
                if (!protectedBy.has(r))
                    protectedBy.set(r, `${key} (${m.etag})`);
        }
    }

    // one poll at a time: the caller's poll() and the loop's would both
    // check a new manifest before either marks it checked (a violation
    // reported twice)
    let running = Promise.resolve();
    const pollOnce = () => {
        const p = running.then(poll);
        running = p.catch(() => {});
        return p;
    };

    const loop = (async () => {
        while (!stopping) {
            try {
                await pollOnce();
            } catch (e) {
                failure = e;
                return;
            }
            await new Promise((r) => setTimeout(r, intervalMs));
        }
    })();

    return {
        // one more poll after the caller's last write, then the report
        async stop() {
            stopping = true;
            await loop;
            if (!failure) {
                try {
                    await pollOnce();
                } catch (e) {
                    failure = e;
                }
            }
            s3.destroy();
            if (failure)
                violations.push(`the watcher failed: ${failure.stack || failure}`);
            return { polls, keys: new Map([...seen].map(([k, v]) => [k, v.etag])),
                changes, published, masters, violations };
        },
        poll: pollOnce,
        get violations() { return violations; },
        get masters() { return masters; },
    };
}
