// A SPEKE v2 key server for the rig (server.mjs puts its SigV4 verifier in
// front; an unsigned request is let through and recorded as such).  It
// parses the CPIX request with @xmldom, checks its shape (AWS's SPEKE v2
// reference: cpix:CPIX with an id, one ContentKey with a kid and a
// commonEncryptionScheme, a DRMSystem per system for that kid, a
// ContentKeyUsageRule with intendedTrackType="ALL"; X-Speke-Version 2.0,
// application/xml) and answers the CPIX document with a fixed content key,
// a Widevine pssh (with the provider "rig-provider"), a PlayReady pssh (a
// WRMHEADER 4.3 with the kid and the rig's LA_URL) and FairPlay's
// URIExtXKey (skd://rig/<kid>); ClearKey gets no PSSH (the packager builds
// its own).  A live key rotation's request names its crypto period (a
// ContentKeyPeriod with an id and an index, the usage rule's
// KeyPeriodFilter naming it) and gets a key of its own (spekeKeyFor).  Faults, each used once: {kind: "status", status} |
// {kind: "malformed"} | {kind: "nokey"} | {kind: "encrypted"} |
// {kind: "badpssh"}.
// Beside it, a W3C ClearKey licence server (clearKeyLicence, at /clearkey
// on the same port): a CDM's licence request {"kids": [base64url, ...],
// "type": "temporary"} is answered with the JSON Web Key set of those keys
// and, after them, every other key handed out for the same resources (the
// content's other crypto periods: Shaka Player's DASH, which joins a
// stream's Periods into one track, stops (4012) when a key status event
// finds a Period's key without a status, one whose session's licence has
// not come yet), for key IDs this server has handed out in a SPEKE answer
// only; anything else is a 4xx.  CORS-open: the player page is on another
// origin.
import { createHash } from "node:crypto";
import { DOMParser, XMLSerializer } from "@xmldom/xmldom";

export const SPEKE_KEY = Buffer.from("7f3c1e5a9b2d4c6e8a0b1c2d3e4f5a6b", "hex");
const NS = { cpix: "urn:dashif:org:cpix", pskc: "urn:ietf:params:xml:ns:keyprov:pskc",
  speke: "urn:aws:amazon:com:speke" };
const SYSTEMS = { "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b": "clearkey",
  "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed": "widevine", "9a04f079-9840-4286-ab92-e65be0885f95": "playready",
  "94ce86fb-07ff-4f43-adb8-93d2fa968ca2": "fairplay" };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const spekeRequests = [];
// The ClearKey licence requests, oldest first: {kids (hex), status, error}.
export const clearKeyRequests = [];
// The content keys handed out in SPEKE answers, by key ID (32 hex):
// {key, resourceId}.
const handedOut = new Map();
let faults = [];
export function setSpekeFaults(list) {
  faults = list;
}

const kids = (el) => Array.from(el.childNodes).filter((n) => n.nodeType === 1);

function pssh(systemUuid, version, kid, data) {
  const head = Buffer.alloc(12);
  head.write("pssh", 4, "latin1");
  head.writeUInt32BE(version << 24, 8);
  const parts = [head, Buffer.from(systemUuid.replace(/-/g, ""), "hex")];
  if (version === 1) {
    const n = Buffer.alloc(4);
    n.writeUInt32BE(1);
    parts.push(n, kid);
  }
  const size = Buffer.alloc(4);
  size.writeUInt32BE(data.length);
  parts.push(size, data);
  const box = Buffer.concat(parts);
  box.writeUInt32BE(box.length, 0);
  return box;
}

// WidevinePsshData: key_ids (2), provider (3), content_id (4).
function widevineData(kid) {
  const field = (tag, b) => Buffer.concat([Buffer.from([tag, b.length]), b]);
  return Buffer.concat([field(0x12, kid), field(0x1a, Buffer.from("rig-provider")),
    field(0x22, Buffer.from("rig-content"))]);
}

// A PlayReady Object with one WRMHEADER 4.3 (AESCBC).
function playReadyObject(kid) {
  // (copies: reverse() on a subarray would turn the caller's kid around)
  const part = (a, b) => Buffer.from(kid.subarray(a, b));
  const guid = Buffer.concat([part(0, 4).reverse(), part(4, 6).reverse(), part(6, 8).reverse(),
    part(8, 16)]);
  const xml = '<WRMHEADER xmlns="http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader" ' +
    'version="4.3.0.0"><DATA><PROTECTINFO><KIDS><KID ALGID="AESCBC" VALUE="' +
    guid.toString("base64") + '"></KID></KIDS></PROTECTINFO>' +
    "<LA_URL>https://rig.example/playready</LA_URL></DATA></WRMHEADER>";
  const x = Buffer.from(xml, "utf16le");
  const pro = Buffer.alloc(10 + x.length);
  pro.writeUInt32LE(pro.length, 0);
  pro.writeUInt16LE(1, 4);
  pro.writeUInt16LE(1, 6);
  pro.writeUInt16LE(x.length, 8);
  x.copy(pro, 10);
  return pro;
}

// What the rig answers for a system and key ID (also for the tests).
export function spekeBoxes(kidUuid) {
  const kid = Buffer.from(kidUuid.replace(/-/g, ""), "hex");
  return {
    widevine: pssh("edef8ba9-79d6-4ace-a3c8-27dcd51d21ed", 0, kid, widevineData(kid)),
    playready: pssh("9a04f079-9840-4286-ab92-e65be0885f95", 1, kid, playReadyObject(kid)),
    fairplay: `skd://rig/${kidUuid}`,
  };
}

// The request's shape; a string says what is wrong.
function checkRequest(req, doc) {
  if (req.headers["x-speke-version"] !== "2.0") return "X-Speke-Version must be 2.0";
  if (!/^application\/xml\b/.test(req.headers["content-type"] || "")) return "content-type must be application/xml";
  const root = doc.documentElement;
  if (!root || root.namespaceURI !== NS.cpix || root.localName !== "CPIX") return "root is not cpix:CPIX";
  if (!root.getAttribute("id")) return "cpix:CPIX has no id";
  const lists = Object.fromEntries(kids(root).map((n) => [n.localName, n]));
  for (const n of kids(root))
    if (n.namespaceURI !== NS.cpix) return `unexpected element ${n.nodeName}`;
  const keys = lists.ContentKeyList ? kids(lists.ContentKeyList) : [];
  if (keys.length !== 1 || keys[0].localName !== "ContentKey") return "one cpix:ContentKey expected";
  const kid = keys[0].getAttribute("kid");
  if (!UUID.test(kid)) return "ContentKey kid is not a UUID";
  const scheme = keys[0].getAttribute("commonEncryptionScheme");
  if (!["cenc", "cbcs", "cens", "cbc1"].includes(scheme)) return "bad commonEncryptionScheme";
  const systems = [];
  for (const ds of lists.DRMSystemList ? kids(lists.DRMSystemList) : []) {
    if (ds.localName !== "DRMSystem" || ds.getAttribute("kid") !== kid) return "DRMSystem kid mismatch";
    const name = SYSTEMS[ds.getAttribute("systemId")];
    if (!name) return `unknown systemId ${ds.getAttribute("systemId")}`;
    systems.push(name);
  }
  if (systems.length === 0) return "no cpix:DRMSystem";
  const rules = lists.ContentKeyUsageRuleList ? kids(lists.ContentKeyUsageRuleList) : [];
  if (rules.length !== 1 || rules[0].getAttribute("kid") !== kid ||
      rules[0].getAttribute("intendedTrackType") !== "ALL")
    return "one ContentKeyUsageRule for the kid with intendedTrackType=ALL expected";
  // live key rotation: one ContentKeyPeriod (id, index), which the usage
  // rule's one KeyPeriodFilter names; neither without the other
  const periods = lists.ContentKeyPeriodList ? kids(lists.ContentKeyPeriodList) : [];
  const filters = kids(rules[0]);
  let period = null;
  if (periods.length || filters.length) {
    if (periods.length !== 1 || periods[0].localName !== "ContentKeyPeriod")
      return "one cpix:ContentKeyPeriod expected";
    const id = periods[0].getAttribute("id"), index = periods[0].getAttribute("index");
    if (!id || !/^(0|[1-9]\d{0,9})$/.test(index || "")) return "ContentKeyPeriod needs an id and an index";
    if (filters.length !== 1 || filters[0].localName !== "KeyPeriodFilter" ||
        filters[0].namespaceURI !== NS.cpix || filters[0].getAttribute("periodId") !== id)
      return "the ContentKeyUsageRule's one KeyPeriodFilter must name the ContentKeyPeriod";
    period = Number(index);
  }
  return { resourceId: root.getAttribute("id"), kid, scheme, systems, period };
}

// The content key the rig answers: SPEKE_KEY, or for a crypto period's
// request (live key rotation) one of its own per key ID.
export function spekeKeyFor(kidUuid, period) {
  if (period === null || period === undefined) return SPEKE_KEY;
  return createHash("sha256").update(SPEKE_KEY).update(kidUuid).digest().subarray(0, 16);
}

function el(doc, ns, name, text) {
  const e = doc.createElementNS(NS[ns], `${ns}:${name}`);
  if (text !== undefined) e.appendChild(doc.createTextNode(text));
  return e;
}

// The request document filled in, as a key server answers.
function answer(doc, shape, fault) {
  const ck = doc.getElementsByTagNameNS(NS.cpix, "ContentKey")[0];
  if (fault !== "nokey") {
    if (fault !== "encrypted")
      handedOut.set(shape.kid.replace(/-/g, ""),
        { key: spekeKeyFor(shape.kid, shape.period), resourceId: shape.resourceId });
    const secret = el(doc, "pskc", "Secret");
    secret.appendChild(fault === "encrypted"
      ? el(doc, "pskc", "EncryptedValue", "AAAA")
      : el(doc, "pskc", "PlainValue", spekeKeyFor(shape.kid, shape.period).toString("base64")));
    const data = el(doc, "cpix", "Data");
    data.appendChild(secret);
    ck.appendChild(data);
  }
  const boxes = spekeBoxes(shape.kid);
  for (const ds of Array.from(doc.getElementsByTagNameNS(NS.cpix, "DRMSystem"))) {
    for (const c of kids(ds)) ds.removeChild(c);
    const name = SYSTEMS[ds.getAttribute("systemId")];
    if (name === "widevine" || name === "playready") {
      let box = boxes[name];
      if (fault === "badpssh") box = Buffer.concat([box, Buffer.from("junk")]);
      ds.appendChild(el(doc, "cpix", "PSSH", box.toString("base64")));
    } else if (name === "fairplay") {
      ds.appendChild(el(doc, "cpix", "URIExtXKey", Buffer.from(boxes.fairplay).toString("base64")));
    }
  }
  return new XMLSerializer().serializeToString(doc);
}

export function speke(req, res, body, signed) {
  const reply = (status, text, type = "text/plain") => {
    res.writeHead(status, { "content-type": type, "x-speke-version": "2.0" });
    res.end(text);
  };
  if (req.method !== "POST") return reply(405, "POST only");
  const errors = [];
  const doc = new DOMParser({ onError: (level, m) => level !== "warning" && errors.push(m) })
    .parseFromString(body.toString("utf8"), "application/xml");
  const shape = errors.length ? `not XML: ${errors[0]}` : checkRequest(req, doc);
  spekeRequests.push({ path: req.url, signed, headers: req.headers, body: body.toString("utf8"),
    ...(typeof shape === "string" ? { error: shape } : shape) });
  if (typeof shape === "string") return reply(400, shape);
  const fault = faults.shift();
  if (fault?.kind === "status") return reply(fault.status, "rig: injected");
  if (fault?.kind === "malformed") return reply(200, "<cpix:CPIX xmlns:cpix=\"urn:dashif:org:cpix\"><oops>", "application/xml");
  reply(200, answer(doc, shape, fault?.kind), "application/xml");
}

const LICENCE_MAX_BODY = 16384;
const LICENCE_MAX_KIDS = 64;
const B64URL16 = /^[A-Za-z0-9_-]{22}$/;

// The key IDs (hex) a ClearKey licence request asks for; a string says
// what is wrong with it.
function licenceKids(req, body) {
  if (req.method !== "POST") return "POST only";
  if (body.length > LICENCE_MAX_BODY) return `request over ${LICENCE_MAX_BODY} bytes`;
  let q;
  try {
    q = JSON.parse(body.toString("utf8"));
  } catch (e) {
    return `not JSON: ${e.message}`;
  }
  if (!q || typeof q !== "object" || !Array.isArray(q.kids) || q.kids.length === 0 ||
      q.kids.length > LICENCE_MAX_KIDS)
    return `"kids" must be an array of 1-${LICENCE_MAX_KIDS} key IDs`;
  if (q.type !== undefined && q.type !== "temporary") return '"type" must be "temporary"';
  if (!q.kids.every((k) => typeof k === "string" && B64URL16.test(k)))
    return "each kid must be 16 bytes in unpadded base64url";
  return q.kids.map((k) => Buffer.from(k, "base64url").toString("hex"));
}

// POST /clearkey: a W3C ClearKey licence (EME's "Clear Key" JSON
// formats); OPTIONS: the CORS preflight.
export function clearKeyLicence(req, res, body) {
  const cors = { "access-control-allow-origin": "*" };
  if (req.method === "OPTIONS") {
    res.writeHead(204, { ...cors, "access-control-allow-methods": "POST",
      "access-control-allow-headers": req.headers["access-control-request-headers"] || "content-type",
      "access-control-max-age": "600" });
    return res.end();
  }
  const reply = (status, obj, record) => {
    clearKeyRequests.push({ status, ...record });
    res.writeHead(status, { ...cors, "content-type": "application/json" });
    res.end(JSON.stringify(obj));
  };
  const kidsHex = licenceKids(req, body);
  if (typeof kidsHex === "string")
    return reply(req.method === "POST" ? 400 : 405, { error: kidsHex }, { error: kidsHex });
  const unknown = kidsHex.filter((k) => !handedOut.has(k));
  if (unknown.length) {
    const error = `no key handed out for ${unknown.join(", ")}`;
    return reply(404, { error }, { kids: kidsHex, error });
  }
  // the keys asked for first, then the other keys handed out for the same
  // resources (a content's other crypto periods, as a licence for the
  // content would carry them)
  const resources = new Set(kidsHex.map((k) => handedOut.get(k).resourceId));
  const all = [...new Set([...kidsHex, ...[...handedOut.keys()].filter((k) =>
    resources.has(handedOut.get(k).resourceId))])];
  reply(200, { keys: all.map((k) => ({ kty: "oct", kid: Buffer.from(k, "hex").toString("base64url"),
    k: handedOut.get(k).key.toString("base64url") })), type: "temporary" }, { kids: kidsHex });
}
