// W3C ClearKey for the three MSE engines, shared by the dashboard's player
// (player.js) and the test page (samples/player.html, which imports it as
// /dashboard/clearkey.js).  A key is either KID:KEY (32 hex digits each:
// the content key itself, handed to the browser's ClearKey CDM without a
// server), several of them separated by commas (a stream whose key
// rotates: each crypto period's), or the URL of a ClearKey licence server
// (the CDM's JSON licence request is POSTed there).  Tested by
// tests/integration/player_menus.test.mjs, encryption.test.mjs and
// live_encryption.test.mjs.

const HEX32 = /^[0-9a-f]{32}$/i;
const MAX_KEYS = 64; // KID:KEY pairs one field or parameter takes

function b64url(hex) {
    const bytes = hex.match(/../g).map((h) => parseInt(h, 16));
    return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-')
        .replace(/\//g, '_').replace(/=+$/, '');
}

function hexOf(bytes) {
    return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

// text: "KIDHEX:KEYHEX" (or several, comma-separated), an http(s)
// licence-server URL, or empty.  Resolves null (no key), { keys: [{ kidHex,
// keyHex, kid, k }, ...] } (kid and k base64url, as JSON Web Keys have
// them; kidHex, keyHex, kid and k also on the object itself: the first
// key's) or { server }; throws an Error saying what is wrong with anything
// else.
export function parseClearKey(text) {
    const s = String(text || '').trim();
    if (!s)
        return null;
    if (/^https?:\/\//i.test(s)) {
        const url = new URL(s, typeof location === 'undefined' ? undefined : location.href);
        return { server: url.href };
    }
    const pairs = s.split(',').map((p) => p.trim().split(':'));
    if (pairs.length > MAX_KEYS || pairs.some((parts) => parts.length !== 2 ||
        !HEX32.test(parts[0]) || !HEX32.test(parts[1])))
        throw new Error('ClearKey: expected KID:KEY (32 hex digits each; up to ' +
            `${MAX_KEYS}, comma-separated) or a licence-server URL`);
    const keys = pairs.map((parts) => {
        const [kidHex, keyHex] = parts.map((p) => p.toLowerCase());
        return { kidHex, keyHex, kid: b64url(kidHex), k: b64url(keyHex) };
    });
    return { ...keys[0], keys };
}

// hls.js asks a licence server even for a key it could be given: with
// keys, the server is a data: URL holding the JSON Web Key set of all of
// them (the CDM takes every key of the set: a session opened for one
// crypto period's key ID gets the others too; nothing leaves the page).
function hlsLicenseUrl(ck) {
    if (ck.server)
        return ck.server;
    const jwks = JSON.stringify({ keys: ck.keys.map(({ kid, k }) => ({ kty: 'oct', kid, k })),
        type: 'temporary' });
    return `data:application/json;base64,${btoa(jwks)}`;
}

// Settings to merge into hls.js's config ({} without a key).  keyIds:
// the manifest's key IDs (hex, keyIdsOf()), what a licence server is asked
// for (with KID:KEY, the field's KIDs) when hls.js does not know the key
// ID of the key line it opens a session for.
export function hlsClearKeyConfig(ck, keyIds = []) {
    if (!ck)
        return {};
    const kids = ck.keys ? ck.keys.map((x) => x.kid)
        : keyIds.filter((k) => HEX32.test(k)).map(b64url);
    return { emeEnabled: true, drmSystems: { 'org.w3.clearkey': {
        licenseUrl: hlsLicenseUrl(ck),
        // no pssh in our init segments: with a known key ID (the key
        // line's, which a rotation changes), ask for it ("keyids"
        // initData) instead of waiting for an "encrypted" event
        generateRequest: (type, data, context) => {
            const own = context?.decryptdata?.keyId;
            const ask = own?.length === 16 ? [b64url(hexOf(own))] : kids;
            return data || !ask.length ? { initDataType: type, initData: data } :
                { initDataType: 'keyids', initData: new TextEncoder().encode(
                    JSON.stringify({ kids: ask })).buffer };
        } } } };
}

// dash.js's setProtectionData() argument (null without a key).
export function dashProtectionData(ck) {
    if (!ck)
        return null;
    return { 'org.w3.clearkey': ck.server ? { serverURL: ck.server } :
        { clearkeys: Object.fromEntries(ck.keys.map((x) => [x.kid, x.k])) } };
}

// Shaka's drm configuration ({} without a key).
export function shakaClearKeyConfig(ck) {
    if (!ck)
        return {};
    return { drm: ck.server ? { servers: { 'org.w3.clearkey': ck.server } } :
        { clearKeys: Object.fromEntries(ck.keys.map((x) => [x.kidHex, x.keyHex])) } };
}

// The key IDs (lower-case hex) a manifest names: an MPD's
// cenc:default_KID, an HLS playlist's ClearKey EXT-X-(SESSION-)KEY, whose
// URI is the key ID as data:text/plain;base64 (as cirrus writes them).
export function keyIdsOf(manifestText) {
    const ids = new Set();
    const text = String(manifestText || '').slice(0, 1 << 20);
    for (const m of text.matchAll(/default_KID="([0-9a-fA-F-]{36})"/g))
        ids.add(m[1].replace(/-/g, '').toLowerCase());
    for (const m of text.matchAll(/#EXT-X-(?:SESSION-)?KEY:[^\n]*URI="data:text\/plain;base64,([A-Za-z0-9+/=]+)"/g)) {
        let bin;
        try {
            bin = atob(m[1]);
        } catch {
            continue;
        }
        if (bin.length === 16)
            ids.add([...bin].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join(''));
    }
    return [...ids];
}
