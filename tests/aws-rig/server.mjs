// The S3 + SQS loopback rig, run as its own process (s3rver needs
// --openssl-legacy-provider): s3rver and local-aws-sqs on loopback, a SigV4
// verifying proxy in front of each (AWS's own signer, @smithy/signature-v4,
// recomputes every signature from the request's SignedHeaders; a mismatch is
// a 403 SignatureDoesNotMatch), and a bridge that turns s3rver's
// object-created events into SQS messages in real S3 notification JSON.
// Behind a verifier of their own: AWS Batch (SubmitJob, ListJobs) and
// EventBridge (PutEvents), checked against their documented request shapes
// and answered here.  Prints one JSON line with its addresses on stdout
// when ready.  A SPEKE v2 key server (speke.mjs) behind a verifier too,
// which lets unsigned requests through (recorded as unsigned), and a W3C
// ClearKey licence server at /clearkey on its port (speke.mjs).
import http from "node:http";
import crypto from "node:crypto";
import fs from "node:fs";
import S3rver from "s3rver";
import { createSqsServer } from "local-aws-sqs";
import { SignatureV4 } from "@smithy/signature-v4";
import hashNode from "@smithy/hash-node";
import { faultProxy } from "./faults.mjs";
import { clearKeyLicence, clearKeyRequests, setSpekeFaults, speke, spekeRequests } from "./speke.mjs";

const Sha256 = hashNode.Hash.bind(null, "sha256");

const cfg = JSON.parse(process.env.RIG_CONFIG || "{}");
const HOST = "127.0.0.1";
const ACCESS_KEY = cfg.accessKey || "AKIDCIRRUSTEST";
const SECRET = cfg.secretKey || "cirrus/test+secret/0123456789abcdefABCDEF";
const REGION = cfg.region || "us-east-1";
const ACCOUNT = "123456789012";
const buckets = cfg.buckets || ["cirrus-in", "cirrus-out"];
const queueName = cfg.queue || "uploads";
const notifyBuckets = new Set(cfg.notifyBuckets || ["cirrus-in"]);

const stats = { verified: 0, rejected: 0, injected: 0, events: 0, parts: 0, presigned: 0,
  conditionalRefused: 0, lists: {} };
// The conditional PUTs in flight, by path: each waits for the one before.
const conditional = new Map();
// S3 faults: the next `count` requests (only those whose decoded path
// contains `match`, when given) answer status/code.
let inject = { count: 0, status: 503, code: "SlowDown", match: "" };
// Batch faults: a queue of {op: "submitjob"|"listjobs"|"any", status, code}.
let batchFaults = [];
const batchCalls = { submitjob: 0, listjobs: 0, failed: 0 };
// Every S3 notification the bridge sent, to replay a delivery.
const events = [];

function listen(server) {
  // Idle keep-alive connections outlive any client's (undici keeps them
  // 4 s, libcurl longer): a server that closes one as the client reuses it
  // makes the client's request fail ("fetch failed", ECONNRESET), a fault
  // no test asked for.
  server.keepAliveTimeout = 120000;
  server.headersTimeout = 125000;
  return new Promise((resolve) => server.listen(0, HOST, () => resolve(server.address().port)));
}

function parseAuth(h) {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
    h || "",
  );
  return m && { key: m[1], date: m[2], region: m[3], service: m[4], signed: m[5].split(";"), sig: m[6] };
}

function amzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || "");
  return m && new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

function decodeQuery(qs) {
  const q = {};
  if (!qs) return q;
  for (const part of qs.split("&")) {
    if (!part) continue;
    const i = part.indexOf("=");
    const k = decodeURIComponent(i < 0 ? part : part.slice(0, i));
    const v = i < 0 ? "" : decodeURIComponent(part.slice(i + 1));
    if (k in q) q[k] = [].concat(q[k], v);
    else q[k] = v;
  }
  return q;
}

// A presigned URL (SigV4 in the query string, as a browser's upload PUT
// sends it): recomputed with @smithy/signature-v4's presign over the same
// request, date and expiry; refused once expired.
async function verifyPresigned(req) {
  const [rawPath, rawQuery] = req.url.split("?", 2);
  const q = decodeQuery(rawQuery);
  const cred = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(q["X-Amz-Credential"] || "");
  if (!cred) return "malformed X-Amz-Credential";
  if (cred[1] !== ACCESS_KEY) return "InvalidAccessKeyId";
  if (q["X-Amz-Algorithm"] !== "AWS4-HMAC-SHA256") return "X-Amz-Algorithm";
  const date = amzDate(q["X-Amz-Date"]);
  const expires = Number(q["X-Amz-Expires"]);
  if (!date || !(expires > 0 && expires <= 604800)) return "X-Amz-Date or X-Amz-Expires";
  if (Date.now() > date.getTime() + expires * 1000) return "Request has expired";
  const signedNames = (q["X-Amz-SignedHeaders"] || "").split(";");
  if (!signedNames.includes("host")) return "host is not signed";
  const headers = {};
  for (const name of signedNames) {
    if (req.headers[name] === undefined) return `signed header ${name} missing`;
    headers[name] = req.headers[name];
  }
  const query = { ...q };
  for (const k of ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"])
    delete query[k];
  const signer = new SignatureV4({
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET,
      sessionToken: q["X-Amz-Security-Token"] },
    region: cred[3], service: cred[4], sha256: Sha256, uriEscapePath: cred[4] !== "s3",
    applyChecksum: false,
  });
  // S3 presigned URLs sign UNSIGNED-PAYLOAD (as AWS's S3 presigner does:
  // the payload hash from this header, the header itself neither signed
  // nor moved into the query; with these options smithy's presign gives
  // the signature of AWS's documented example, aeeed9bb...)
  const signed = await signer.presign(
    { method: req.method, protocol: "http:", hostname: HOST, path: rawPath, query,
      headers: { ...headers, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" } },
    { signingDate: date, expiresIn: expires, signingRegion: cred[3], signingService: cred[4],
      signableHeaders: new Set(signedNames),
      unsignableHeaders: new Set(["x-amz-content-sha256"]),
      unhoistableHeaders: new Set(["x-amz-content-sha256"]) },
  );
  if (signed.query["X-Amz-Signature"] !== q["X-Amz-Signature"]) return "SignatureDoesNotMatch";
  stats.presigned++;
  return null;
}

// Recomputes the request's signature with @smithy/signature-v4.
async function verify(req, body) {
  if (/[?&]X-Amz-Signature=/.test(req.url)) return verifyPresigned(req);
  const auth = parseAuth(req.headers.authorization);
  if (!auth) return "missing or malformed Authorization";
  if (auth.key !== ACCESS_KEY) return "InvalidAccessKeyId";
  const date = amzDate(req.headers["x-amz-date"]);
  if (!date) return "missing x-amz-date";
  if (Math.abs(Date.now() - date.getTime()) > 15 * 60 * 1000) return "RequestTimeTooSkewed";
  if (!auth.signed.includes("host")) return "host is not signed";
  const headers = {};
  for (const name of auth.signed) {
    const v = req.headers[name];
    if (v === undefined) return `signed header ${name} missing`;
    headers[name] = Array.isArray(v) ? v.join(",") : v;
  }
  const s3 = auth.service === "s3";
  if (s3) {
    const h = req.headers["x-amz-content-sha256"];
    if (!h) return "x-amz-content-sha256 missing";
    if (h !== "UNSIGNED-PAYLOAD" && h !== crypto.createHash("sha256").update(body).digest("hex"))
      return "XAmzContentSHA256Mismatch";
  }
  const [rawPath, rawQuery] = req.url.split("?", 2);
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: ACCESS_KEY,
      secretAccessKey: SECRET,
      sessionToken: headers["x-amz-security-token"],
    },
    region: auth.region,
    service: auth.service,
    sha256: Sha256,
    uriEscapePath: !s3,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: "http:",
      hostname: HOST,
      path: s3 ? rawPath : decodeURIComponent(rawPath),
      query: decodeQuery(rawQuery),
      headers,
      body: s3 ? undefined : body.toString("utf8"),
    },
    {
      signingDate: date,
      signingRegion: auth.region,
      signingService: auth.service,
      // sign what the client says it signed, even cache-control & co.
      signableHeaders: new Set(auth.signed),
    },
  );
  const got = parseAuth(signed.headers.authorization);
  if (!got || got.sig !== auth.sig) return "SignatureDoesNotMatch";
  if (got.signed.join(";") !== auth.signed.join(";")) return "SignedHeaders mismatch";
  return null;
}

function s3Error(res, status, code, message) {
  res.writeHead(status, { "content-type": "application/xml" });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

function jsonError(res, status, code, message) {
  res.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
  res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message }));
}

function proxy(targetPort, kind) {
  return http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      if (req.url.startsWith("/__rig/")) return control(req, res, body);
      // the ClearKey licence server, which a browser asks unsigned
      if (kind === "speke" && req.url.split("?")[0] === "/clearkey") return clearKeyLicence(req, res, body);
      if (kind === "s3" && req.headers.origin) {
        // the uploads bucket's CORS, as deploy/terraform sets it: a console
        // page PUTs to a presigned URL from its own origin
        res.setHeader("access-control-allow-origin", "*");
        res.setHeader("access-control-expose-headers", "ETag");
        if (req.method === "OPTIONS") {
          res.writeHead(200, {
            "access-control-allow-methods": "PUT, GET, HEAD",
            "access-control-allow-headers": req.headers["access-control-request-headers"] || "*",
            "access-control-max-age": "600",
          });
          return res.end();
        }
      }
      const fail = kind === "s3" ? s3Error : jsonError;
      let why;
      const unsignedSpeke = kind === "speke" && !req.headers.authorization;
      try {
        why = unsignedSpeke ? null : await verify(req, body);
      } catch (e) {
        why = `verifier: ${e.message}`;
      }
      if (why) {
        stats.rejected++;
        return fail(res, 403, why === "InvalidAccessKeyId" ? why : "SignatureDoesNotMatch", why);
      }
      if (!unsignedSpeke) stats.verified++;
      if (kind === "s3" && /[?&]partNumber=/.test(req.url)) stats.parts++;
      if (kind === "batch") return batch(req, res, body);
      if (kind === "events") return eventBridge(req, res, body);
      if (kind === "speke") {
        const auth = parseAuth(req.headers.authorization);
        try {
          return speke(req, res, body, auth ? { service: auth.service, region: auth.region } : null);
        } catch (e) {
          return fail(res, 500, "RigError", `speke: ${e.message}`);
        }
      }
      if (kind === "s3" && inject.count > 0 &&
          (!inject.match || decodeURIComponent(req.url.split("?")[0]).includes(inject.match))) {
        inject.count--;
        stats.injected++;
        return fail(res, inject.status, inject.code, "Please reduce your request rate.");
      }
      // S3's conditional write (PutObject with If-None-Match: *, 412
      // PreconditionFailed when the key exists), which s3rver ignores:
      // checked here, one such PUT of a key at a time, so of two racing
      // writers exactly one creates the object, as on AWS.
      if (kind === "s3" && req.method === "PUT" && req.headers["if-none-match"] !== undefined) {
        if (req.headers["if-none-match"] !== "*" || /[?&]partNumber=/.test(req.url))
          return fail(res, 501, "NotImplemented", "the rig checks If-None-Match: * on a single PUT only");
        const key = req.url.split("?")[0];
        const prev = conditional.get(key) || Promise.resolve();
        let release;
        const gate = new Promise((r) => { release = r; });
        const chained = prev.then(() => gate);
        conditional.set(key, chained);
        await prev;
        try {
          const status = await headStatus(targetPort, key);
          if (status === 200) {
            stats.conditionalRefused++;
            return fail(res, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold");
          }
          delete req.headers["if-none-match"];
          await atomically(req, () => forward(req, res, body, targetPort, fail));
        } catch (e) {
          if (!res.headersSent) fail(res, 502, "BadGateway", e.message);
        } finally {
          release();
          if (conditional.get(key) === chained) conditional.delete(key);
        }
        return;
      }
      if (kind === "s3" && req.method === "GET") countList(req.url);
      if (kind === "s3") return atomically(req, () => forward(req, res, body, targetPort, fail));
      return forward(req, res, body, targetPort, fail);
    });
  });
}

// s3rver writes an object in place, so a GET overlapping its PUT could read
// half of it (the old length, the new bytes); on S3 a reader sees the old
// object or the new one.  Per key: reads run together, a PUT waits for the
// reads in flight and the reads that come after it wait for the PUT.  Only
// for JSON documents rewritten in place (the job store's records and
// keys): media traffic is left as it was.
const keyLocks = new Map();
async function atomically(req, send) {
  const key = req.url.split("?")[0];
  const isRead = req.method === "GET" || req.method === "HEAD";
  if (!key.endsWith(".json")) return send();
  if (!isRead && (req.method !== "PUT" || /[?&]partNumber=/.test(req.url))) return send();
  let lock = keyLocks.get(key);
  if (!lock) keyLocks.set(key, (lock = { reads: new Set(), write: null }));
  let mine;
  if (isRead) {
    mine = (async () => {
      await lock.write?.catch(() => {});
      return send();
    })();
    lock.reads.add(mine);
  } else {
    const before = [lock.write, ...lock.reads];
    mine = (async () => {
      await Promise.allSettled(before);
      return send();
    })();
    lock.write = mine;
  }
  try {
    return await mine;
  } finally {
    lock.reads.delete(mine);
    if (lock.write === mine) lock.write = null;
    if (!lock.write && lock.reads.size === 0 && keyLocks.get(key) === lock) keyLocks.delete(key);
  }
}

// ListObjectsV2 requests by prefix: {pages, continued (with a
// continuation-token), startAfter (with start-after)}.
function countList(url) {
  const q = decodeQuery(url.split("?", 2)[1]);
  if (q["list-type"] !== "2") return;
  const c = (stats.lists[q.prefix || ""] ||= { pages: 0, continued: 0, startAfter: 0 });
  c.pages++;
  if (q["continuation-token"]) c.continued++;
  if (q["start-after"]) c.startAfter++;
}

// The status of a HEAD of path on the emulator (unsigned, as forwarded).
function headStatus(port, path) {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: HOST, port, method: "HEAD", path, agent: false }, (ur) => {
      ur.resume();
      resolve(ur.statusCode);
    });
    r.on("error", reject);
    r.end();
  });
}

// Sends a verified request on to the emulator; resolves once answered
// (or the client went away).
function forward(req, res, body, targetPort, fail) {
  return new Promise((resolve) => {
    res.on("close", resolve);
    // s3rver knows only its own keys: the proxy has verified the
    // signature, so the backend gets the request anonymously.
    const headers = { ...req.headers, "content-length": String(body.length) };
    delete headers.authorization;
    // a presigned URL's X-Amz-* parameters were checked: not forwarded
    const [fwdPath, fwdQuery] = req.url.split("?", 2);
    const rest = (fwdQuery || "").split("&").filter((p) => p && !/^X-Amz-/.test(p));
    const path = rest.length ? `${fwdPath}?${rest.join("&")}` : fwdPath;
    const up = http.request(
      // no keep-alive (node 20's global agent has it): a socket the
      // emulator closed while idle would be a spurious 502 when reused
      { host: HOST, port: targetPort, method: req.method, path, headers, agent: false },
      (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
        ur.on("end", resolve);
        ur.on("error", resolve);
      },
    );
    up.on("error", (e) => {
      resolve();
      // after the answer's head went out (the emulator cut or garbled
      // its body) a 502 can no longer be sent: the client sees the
      // connection end instead, and the rig keeps running
      if (res.headersSent) {
        if (!res.writableEnded) res.destroy(e);
        return;
      }
      fail(res, 502, "BadGateway", e.message);
    });
    up.end(body);
  });
}

// AWS Batch SubmitJob and ListJobs, checked against the documented request
// shapes (API reference, 2016-08-10): unknown members, wrong types and
// out-of-range values are a 400 ClientException.  Submitted jobs are kept
// (status SUBMITTED) and ListJobs answers from them.
const SUBMIT_FIELDS = new Set(["jobName", "jobQueue", "jobDefinition", "parameters", "arrayProperties",
  "dependsOn", "containerOverrides", "nodeOverrides", "retryStrategy", "propagateTags", "timeout", "tags",
  "shareIdentifier", "schedulingPriorityOverride", "eksPropertiesOverride", "ecsPropertiesOverride",
  "consumableResourcePropertiesOverride"]);
const LIST_FIELDS = new Set(["jobQueue", "arrayJobId", "multiNodeJobId", "jobStatus", "maxResults",
  "nextToken", "filters"]);
const FILTER_NAMES = new Set(["JOB_NAME", "JOB_DEFINITION", "BEFORE_CREATED_AT", "AFTER_CREATED_AT",
  "SHARE_IDENTIFIER"]);
const JOB_STATUSES = new Set(["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"]);
const submitted = [];

function batchReply(res, status, doc, code) {
  const headers = { "content-type": "application/json" };
  if (code) headers["x-amzn-errortype"] = code;
  res.writeHead(status, headers);
  res.end(JSON.stringify(doc));
}

// ContainerOverrides (API reference): environment is a list of
// KeyValuePair, no name starting with AWS_BATCH (reserved).
const OVERRIDE_FIELDS = new Set(["command", "environment", "instanceType", "memory", "resourceRequirements", "vcpus"]);

function containerOverrides(o) {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return "containerOverrides must be an object";
  for (const k of Object.keys(o)) if (!OVERRIDE_FIELDS.has(k)) return `containerOverrides: unknown field ${k}`;
  if (o.environment === undefined) return null;
  if (!Array.isArray(o.environment)) return "containerOverrides.environment must be a list";
  for (const e of o.environment) {
    if (typeof e !== "object" || e === null || Object.keys(e).some((k) => k !== "name" && k !== "value"))
      return "containerOverrides.environment: KeyValuePair {name, value}";
    if (typeof e.name !== "string" || !e.name || typeof e.value !== "string")
      return "containerOverrides.environment: name and value are strings";
    if (e.name.startsWith("AWS_BATCH")) return "containerOverrides.environment: AWS_BATCH names are reserved";
  }
  return null;
}

// The quota "maximum job payload size (for SubmitJob API operations)".
const SUBMIT_MAX = 30 * 1024;

function submitJob(doc, size) {
  if (size > SUBMIT_MAX) return `job payload of ${size} bytes is above ${SUBMIT_MAX}`;
  for (const k of Object.keys(doc)) if (!SUBMIT_FIELDS.has(k)) return `unknown field ${k}`;
  if (doc.containerOverrides !== undefined) {
    const bad = containerOverrides(doc.containerOverrides);
    if (bad) return bad;
  }
  if (typeof doc.jobName !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(doc.jobName)) return "bad jobName";
  if (typeof doc.jobQueue !== "string" || !doc.jobQueue) return "jobQueue required";
  if (typeof doc.jobDefinition !== "string" || !doc.jobDefinition) return "jobDefinition required";
  if (doc.parameters !== undefined) {
    if (typeof doc.parameters !== "object" || doc.parameters === null || Array.isArray(doc.parameters))
      return "parameters must be a map";
    for (const v of Object.values(doc.parameters)) if (typeof v !== "string") return "parameter values are strings";
  }
  const jobId = crypto.randomUUID();
  submitted.push({ ...doc, jobId, status: "SUBMITTED", createdAt: Date.now() });
  return { jobArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job/${jobId}`, jobName: doc.jobName, jobId };
}

function listJobs(doc) {
  for (const k of Object.keys(doc)) if (!LIST_FIELDS.has(k)) return `unknown field ${k}`;
  const scopes = ["jobQueue", "arrayJobId", "multiNodeJobId"].filter((k) => doc[k] !== undefined);
  if (scopes.length !== 1 || typeof doc[scopes[0]] !== "string" || !doc[scopes[0]])
    return "exactly one of jobQueue, arrayJobId, multiNodeJobId is required";
  if (doc.jobStatus !== undefined && !JOB_STATUSES.has(doc.jobStatus)) return "bad jobStatus";
  if (doc.maxResults !== undefined && (!Number.isInteger(doc.maxResults) || doc.maxResults < 1 || doc.maxResults > 1000))
    return "maxResults must be an integer from 1 to 1000";
  if (doc.nextToken !== undefined && typeof doc.nextToken !== "string") return "nextToken must be a string";
  let jobs = submitted.filter((j) => j.jobQueue === doc.jobQueue);
  if (doc.filters !== undefined) {
    if (!Array.isArray(doc.filters) || doc.filters.length !== 1) return "filters: one KeyValuesPair";
    const f = doc.filters[0];
    if (typeof f !== "object" || Object.keys(f).some((k) => k !== "name" && k !== "values")) return "filters: name, values";
    if (!FILTER_NAMES.has(f.name)) return `filters: unknown name ${f.name}`;
    if (!Array.isArray(f.values) || f.values.length !== 1 || typeof f.values[0] !== "string") return "filters: one value";
    if (f.name === "JOB_NAME") {
      // case-insensitive; a trailing '*' matches a prefix
      const v = f.values[0].toLowerCase();
      jobs = jobs.filter((j) => (v.endsWith("*") ? j.jobName.toLowerCase().startsWith(v.slice(0, -1))
        : j.jobName.toLowerCase() === v));
    }
  } else {
    const st = doc.jobStatus || "RUNNING";
    jobs = jobs.filter((j) => j.status === st);
  }
  const start = doc.nextToken ? Number(Buffer.from(doc.nextToken, "base64").toString()) : 0;
  if (!Number.isInteger(start) || start < 0) return "bad nextToken";
  const n = doc.maxResults || 100;
  const page = jobs.slice(start, start + n);
  const out = {
    jobSummaryList: page.map((j) => ({
      jobArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job/${j.jobId}`, jobId: j.jobId, jobName: j.jobName,
      createdAt: j.createdAt, status: j.status,
      jobDefinition: `arn:aws:batch:${REGION}:${ACCOUNT}:job-definition/${j.jobDefinition}`,
    })),
  };
  if (start + n < jobs.length) out.nextToken = Buffer.from(String(start + n)).toString("base64");
  return out;
}

function batch(req, res, body) {
  const bad = (m) => batchReply(res, 400, { __type: "ClientException", message: m }, "ClientException");
  const op = req.method === "POST" && { "/v1/submitjob": "submitjob", "/v1/listjobs": "listjobs" }[req.url];
  if (!op) return bad(`unexpected ${req.method} ${req.url}`);
  batchCalls[op]++;
  const fi = batchFaults.findIndex((f) => f.op === op || f.op === "any");
  if (fi >= 0) {
    const f = batchFaults.splice(fi, 1)[0];
    batchCalls.failed++;
    return batchReply(res, f.status, { __type: f.code, message: `rig: injected ${f.status} ${f.code}` }, f.code);
  }
  if (!/^application\/json/.test(req.headers["content-type"] || "")) return bad("content-type must be application/json");
  let doc;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch {
    return bad("body is not JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return bad("body is not a JSON object");
  const out = op === "submitjob" ? submitJob(doc, body.length) : listJobs(doc);
  if (typeof out === "string") return bad(out);
  batchReply(res, 200, out);
}

// EventBridge PutEvents (AWSEvents, JSON 1.1), checked against the API
// reference: 1 to 10 entries, Source, DetailType and Detail each required
// here (a rule matches on them), Detail a JSON object as text, an entry
// within 256 KiB; unknown members are a 400.  Accepted entries are kept,
// with the bus they went to and what signed them, for rig.putEvents().
const ENTRY_FIELDS = new Set(["Time", "Source", "Resources", "DetailType", "Detail", "EventBusName",
  "TraceHeader"]);
const putEvents = [];
let eventsFaults = [];

function eventsReply(res, status, doc) {
  res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
  res.end(JSON.stringify(doc));
}

function checkEntry(e) {
  if (typeof e !== "object" || e === null || Array.isArray(e)) return "an entry is an object";
  for (const k of Object.keys(e)) if (!ENTRY_FIELDS.has(k)) return `unknown entry field ${k}`;
  for (const k of ["Source", "DetailType", "Detail"])
    if (typeof e[k] !== "string" || !e[k]) return `${k} required`;
  if (e.EventBusName !== undefined && (typeof e.EventBusName !== "string" || !e.EventBusName ||
      e.EventBusName.length > 1600)) return "bad EventBusName";
  let detail;
  try {
    detail = JSON.parse(e.Detail);
  } catch {
    return "Detail is not JSON";
  }
  if (typeof detail !== "object" || detail === null || Array.isArray(detail)) return "Detail is not a JSON object";
  if (Buffer.byteLength(JSON.stringify(e)) > 256 * 1024) return "entry larger than 256 KiB";
  return null;
}

function eventBridge(req, res, body) {
  const bad = (m) => eventsReply(res, 400, { __type: "ValidationException", message: m });
  if (req.method !== "POST" || req.url !== "/") return bad(`unexpected ${req.method} ${req.url}`);
  if (req.headers["x-amz-target"] !== "AWSEvents.PutEvents") return bad(`unknown target ${req.headers["x-amz-target"]}`);
  if (req.headers["content-type"] !== "application/x-amz-json-1.1") return bad("content-type must be application/x-amz-json-1.1");
  if (eventsFaults.length > 0) {
    const f = eventsFaults.shift();
    return eventsReply(res, f.status, { __type: f.code, message: `rig: injected ${f.status} ${f.code}` });
  }
  let doc;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch {
    return bad("body is not JSON");
  }
  if (typeof doc !== "object" || doc === null || Object.keys(doc).some((k) => k !== "Entries" && k !== "EndpointId"))
    return bad("PutEvents takes Entries (and EndpointId)");
  if (!Array.isArray(doc.Entries) || doc.Entries.length < 1 || doc.Entries.length > 10)
    return bad("Entries: 1 to 10");
  for (const e of doc.Entries) {
    const why = checkEntry(e);
    if (why) return bad(why);
  }
  const auth = parseAuth(req.headers.authorization);
  const out = doc.Entries.map((e) => {
    const id = crypto.randomUUID();
    putEvents.push({ ...e, EventBusName: e.EventBusName || "default", eventId: id,
      service: auth.service, region: auth.region });
    return { EventId: id };
  });
  eventsReply(res, 200, { FailedEntryCount: 0, Entries: out });
}

function control(req, res, body) {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/__rig/inject") {
    inject = {
      count: Number(url.searchParams.get("count") || 0),
      status: Number(url.searchParams.get("status") || 503),
      code: url.searchParams.get("code") || "SlowDown",
      match: url.searchParams.get("match") || "",
    };
  } else if (url.pathname === "/__rig/batch-faults") {
    batchFaults = JSON.parse(body.toString("utf8") || "[]");
  } else if (url.pathname === "/__rig/events-faults") {
    // the next PutEvents calls answer these, once each: [{status, code}]
    eventsFaults = JSON.parse(body.toString("utf8") || "[]");
  } else if (url.pathname === "/__rig/speke-faults") {
    // the next SPEKE requests answer these, once each (speke.mjs)
    setSpekeFaults(JSON.parse(body.toString("utf8") || "[]"));
  } else if (url.pathname === "/__rig/batch-status") {
    // moves a submitted job along, as Batch would
    for (const j of submitted)
      if (j.jobId === url.searchParams.get("jobId")) j.status = url.searchParams.get("status");
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ stats, inject, submitted, batchCalls, batchFaults, events, putEvents, spekeRequests,
    clearKeyRequests }));
}

// Real S3 notifications URL-encode keys as a form does (space = '+').
function s3EncodeKey(key) {
  return encodeURIComponent(key).replace(/%20/g, "+").replace(/%2F/g, "/");
}

const dir = cfg.dir || fs.mkdtempSync("/tmp/cirrus-s3rver-");
const s3 = new S3rver({
  address: HOST,
  port: 0,
  silent: true,
  directory: dir,
  configureBuckets: buckets.map((name) => ({ name })),
});
const s3addr = await s3.run();
// The SQS backend: local-aws-sqs (default), or with {sqs: "fauxqs"} fauxqs,
// whose redrive follows AWS (a message moves to the dead-letter queue on the
// receive after maxReceiveCount; ChangeMessageVisibility does not count as a
// receive).  local-aws-sqs 2.0.2 counts every ChangeMessageVisibility as a
// receive (its visibility setter increments ApproximateReceiveCount), so
// heartbeats push a running job towards its DLQ there.
const visibility = String(cfg.visibility || 30);
const maxReceiveCount = cfg.maxReceiveCount || 3;
let sqsPort, sqsServer, backendQueueUrl, backendDlqUrl;
if (cfg.sqs === "fauxqs") {
  const { startFauxqs } = await import("fauxqs");
  sqsServer = await startFauxqs({ port: 0, logger: false, defaultRegion: REGION });
  sqsPort = sqsServer.port;
  const dlq = sqsServer.createQueue(`${queueName}-dlq`);
  const q = sqsServer.createQueue(queueName, {
    attributes: {
      VisibilityTimeout: visibility,
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount }),
    },
  });
  // fauxqs knows a queue by its exact URL (host sqs.<region>.127.0.0.1):
  // clients reach it through the proxy (AWS_ENDPOINT_URL_SQS) all the same
  backendQueueUrl = q.queueUrl;
  backendDlqUrl = dlq.queueUrl;
} else {
  sqsPort = await (async () => {
    const probe = http.createServer();
    const p = await listen(probe);
    await new Promise((r) => probe.close(r));
    return p;
  })();
  const queues = [
    { QueueName: `${queueName}-dlq` },
    {
      QueueName: queueName,
      Attributes: {
        VisibilityTimeout: visibility,
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${queueName}-dlq`,
          maxReceiveCount,
        }),
      },
    },
  ];
  const server = await createSqsServer({ port: sqsPort, hostname: HOST, queues });
  sqsServer = { stop: () => new Promise((r) => (server.close ? server.close(r) : r())) };
  backendQueueUrl = `http://${HOST}:${sqsPort}/${ACCOUNT}/${queueName}`;
}
const s3Proxy = proxy(s3addr.port, "s3");
const sqsProxy = proxy(sqsPort, "sqs");
const batchProxy = proxy(0, "batch");
const batchPort = await listen(batchProxy);
const eventsProxy = proxy(0, "events");
const eventsPort = await listen(eventsProxy);
const spekeProxy = proxy(0, "speke");
const spekePort = await listen(spekeProxy);
const s3ProxyPort = await listen(s3Proxy);
const sqsProxyPort = await listen(sqsProxy);
// clients reach S3 and SQS through the fault injector (faults.mjs), which
// forwards to the verifiers unchanged until a test sets rules
const s3Faults = faultProxy("s3", s3ProxyPort, HOST);
const sqsFaults = faultProxy("sqs", sqsProxyPort, HOST);
const s3FaultsPort = await listen(s3Faults);
const sqsFaultsPort = await listen(sqsFaults);
const queueUrl = backendDlqUrl ? backendQueueUrl : `http://${HOST}:${sqsFaultsPort}/${ACCOUNT}/${queueName}`;
const dlqUrl = backendDlqUrl || `${queueUrl}-dlq`;

// The bridge: object-created events into the queue, straight to the backend.
s3.on("event", async (event) => {
  const rec = event.Records && event.Records[0];
  if (!rec || !notifyBuckets.has(rec.s3.bucket.name) || !rec.eventName.startsWith("ObjectCreated")) return;
  stats.events++;
  const record = {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: REGION,
    eventTime: new Date().toISOString(),
    eventName: rec.eventName,
    userIdentity: { principalId: "AWS:CIRRUSTEST" },
    requestParameters: { sourceIPAddress: HOST },
    responseElements: { "x-amz-request-id": crypto.randomUUID(), "x-amz-id-2": "rig" },
    s3: {
      s3SchemaVersion: "1.0",
      configurationId: "cirrus-uploads",
      bucket: { name: rec.s3.bucket.name, ownerIdentity: { principalId: "CIRRUS" }, arn: `arn:aws:s3:::${rec.s3.bucket.name}` },
      object: {
        key: s3EncodeKey(rec.s3.object.key),
        size: rec.s3.object.size,
        eTag: rec.s3.object.eTag,
        sequencer: Date.now().toString(16).toUpperCase(),
      },
    },
  };
  await fetch(`http://${HOST}:${sqsPort}/`, {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "AmazonSQS.SendMessage" },
    body: JSON.stringify({
      QueueUrl: backendQueueUrl,
      MessageBody: JSON.stringify({ Records: [record] }),
    }),
  }).catch((e) => console.error("bridge:", e.message));
  events.push(JSON.stringify({ Records: [record] }));
});

process.stdout.write(
  JSON.stringify({
    s3: `http://${HOST}:${s3FaultsPort}`,
    sqs: `http://${HOST}:${sqsFaultsPort}`,
    // the verifiers without the fault injector in front (a test's own
    // observer, e.g. a bucket watcher, must not meet the faults)
    s3Direct: `http://${HOST}:${s3ProxyPort}`,
    sqsDirect: `http://${HOST}:${sqsProxyPort}`,
    batch: `http://${HOST}:${batchPort}`,
    eventbridge: `http://${HOST}:${eventsPort}`,
    speke: `http://${HOST}:${spekePort}`,
    queueUrl,
    dlqUrl,
    accessKey: ACCESS_KEY,
    secretKey: SECRET,
    region: REGION,
    dir,
  }) + "\n",
);

async function shutdown() {
  for (const f of [s3Faults, sqsFaults]) {
    f.closeAllOnStop();
    f.close();
  }
  s3Proxy.close();
  batchProxy.close();
  eventsProxy.close();
  spekeProxy.close();
  sqsProxy.close();
  await s3.close().catch(() => {});
  await sqsServer.stop().catch(() => {});
  process.exit(0);
}
process.on("SIGTERM", shutdown);
// the parent holds our stdin: when it dies, so do we
process.stdin.on("end", shutdown);
process.stdin.on("error", shutdown);
process.stdin.resume();
process.on("SIGINT", shutdown);
