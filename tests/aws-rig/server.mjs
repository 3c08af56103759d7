// The S3 + SQS loopback rig, run as its own process (s3rver needs
// --openssl-legacy-provider): s3rver and local-aws-sqs on loopback, a SigV4
// verifying proxy in front of each (AWS's own signer, @smithy/signature-v4,
// recomputes every signature from the request's SignedHeaders; a mismatch is
// a 403 SignatureDoesNotMatch), and a bridge that turns s3rver's
// object-created events into SQS messages in real S3 notification JSON.
// Prints one JSON line with its addresses on stdout when ready.
import http from "node:http";
import crypto from "node:crypto";
import fs from "node:fs";
import S3rver from "s3rver";
import { createSqsServer } from "local-aws-sqs";
import { SignatureV4 } from "@smithy/signature-v4";
import hashNode from "@smithy/hash-node";

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

const stats = { verified: 0, rejected: 0, injected: 0, events: 0, parts: 0 };
let inject = { count: 0, status: 503, code: "SlowDown" };

function listen(server) {
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

// Recomputes the request's signature with @smithy/signature-v4.
async function verify(req, body) {
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
      const fail = kind === "s3" ? s3Error : jsonError;
      let why;
      try {
        why = await verify(req, body);
      } catch (e) {
        why = `verifier: ${e.message}`;
      }
      if (why) {
        stats.rejected++;
        return fail(res, 403, why === "InvalidAccessKeyId" ? why : "SignatureDoesNotMatch", why);
      }
      stats.verified++;
      if (kind === "s3" && /[?&]partNumber=/.test(req.url)) stats.parts++;
      if (kind === "batch") return batch(req, res, body);
      if (kind === "s3" && inject.count > 0) {
        inject.count--;
        stats.injected++;
        return fail(res, inject.status, inject.code, "Please reduce your request rate.");
      }
      // s3rver knows only its own keys: the proxy has verified the
      // signature, so the backend gets the request anonymously.
      const headers = { ...req.headers, "content-length": String(body.length) };
      delete headers.authorization;
      const up = http.request(
        { host: HOST, port: targetPort, method: req.method, path: req.url, headers },
        (ur) => {
          res.writeHead(ur.statusCode, ur.headers);
          ur.pipe(res);
        },
      );
      up.on("error", (e) => fail(res, 502, "BadGateway", e.message));
      up.end(body);
    });
  });
}

// AWS Batch SubmitJob, checked against the documented request shape.
const BATCH_FIELDS = new Set(["jobName", "jobQueue", "jobDefinition", "parameters", "arrayProperties",
  "dependsOn", "containerOverrides", "nodeOverrides", "retryStrategy", "propagateTags", "timeout", "tags",
  "shareIdentifier", "schedulingPriorityOverride", "eksPropertiesOverride", "ecsPropertiesOverride"]);
const submitted = [];
function batch(req, res, body) {
  const bad = (m) => {
    res.writeHead(400, { "content-type": "application/json", "x-amzn-errortype": "ClientException" });
    res.end(JSON.stringify({ __type: "ClientException", message: m }));
  };
  if (req.method !== "POST" || req.url !== "/v1/submitjob") return bad(`unexpected ${req.method} ${req.url}`);
  if (!/^application\/json/.test(req.headers["content-type"] || "")) return bad("content-type must be application/json");
  let doc;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch {
    return bad("body is not JSON");
  }
  for (const k of Object.keys(doc)) if (!BATCH_FIELDS.has(k)) return bad(`unknown field ${k}`);
  if (typeof doc.jobName !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(doc.jobName)) return bad("bad jobName");
  if (typeof doc.jobQueue !== "string" || !doc.jobQueue) return bad("jobQueue required");
  if (typeof doc.jobDefinition !== "string" || !doc.jobDefinition) return bad("jobDefinition required");
  if (doc.parameters !== undefined) {
    if (typeof doc.parameters !== "object" || Array.isArray(doc.parameters)) return bad("parameters must be a map");
    for (const v of Object.values(doc.parameters)) if (typeof v !== "string") return bad("parameter values are strings");
  }
  const jobId = crypto.randomUUID();
  submitted.push({ ...doc, jobId });
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ jobArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job/${jobId}`, jobName: doc.jobName, jobId }));
}

function control(req, res, body) {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/__rig/inject") {
    inject = {
      count: Number(url.searchParams.get("count") || 0),
      status: Number(url.searchParams.get("status") || 503),
      code: url.searchParams.get("code") || "SlowDown",
    };
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ stats, inject, submitted }));
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
const sqsPort = await (async () => {
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
      VisibilityTimeout: String(cfg.visibility || 30),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${queueName}-dlq`,
        maxReceiveCount: cfg.maxReceiveCount || 3,
      }),
    },
  },
];
const sqsServer = await createSqsServer({ port: sqsPort, hostname: HOST, queues });
const s3Proxy = proxy(s3addr.port, "s3");
const sqsProxy = proxy(sqsPort, "sqs");
const batchProxy = proxy(0, "batch");
const batchPort = await listen(batchProxy);
const s3ProxyPort = await listen(s3Proxy);
const sqsProxyPort = await listen(sqsProxy);
const queueUrl = `http://${HOST}:${sqsProxyPort}/${ACCOUNT}/${queueName}`;
const dlqUrl = `${queueUrl}-dlq`;

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
      QueueUrl: `http://${HOST}:${sqsPort}/${ACCOUNT}/${queueName}`,
      MessageBody: JSON.stringify({ Records: [record] }),
    }),
  }).catch((e) => console.error("bridge:", e.message));
});

process.stdout.write(
  JSON.stringify({
    s3: `http://${HOST}:${s3ProxyPort}`,
    sqs: `http://${HOST}:${sqsProxyPort}`,
    batch: `http://${HOST}:${batchPort}`,
    queueUrl,
    dlqUrl,
    accessKey: ACCESS_KEY,
    secretKey: SECRET,
    region: REGION,
    dir,
  }) + "\n",
);

async function shutdown() {
  s3Proxy.close();
  batchProxy.close();
  sqsProxy.close();
  await s3.close().catch(() => {});
  await new Promise((r) => (sqsServer.close ? sqsServer.close(r) : r()));
  process.exit(0);
}
process.on("SIGTERM", shutdown);
// the parent holds our stdin: when it dies, so do we
process.stdin.on("end", shutdown);
process.stdin.on("error", shutdown);
process.stdin.resume();
process.on("SIGINT", shutdown);
