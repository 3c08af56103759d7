// start()/stop() for the S3 + SQS loopback rig (see server.mjs).  start()
// resolves to { s3, sqs, s3Direct, sqsDirect, batch, queueUrl, dlqUrl,
// accessKey, secretKey, region, env(extra), inject(n, status, code, match),
// faults(rules), faultLog(), stats(), submitted(), batchFaults(list),
// batchCalls(), events(), putEvents(), eventsFaults(list), speke,
// spekeRequests(), spekeFaults(list), clearKey, clearKeyRequests() }.  s3 and sqs are the fault proxies (faults.mjs),
// transparent until faults() sets rules; s3Direct/sqsDirect the verifiers.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

// fetch() to the rig's control endpoints, once more on a stale keep-alive
// socket: a test that blocks its event loop (spawnSync of the AWS CLI) for
// longer than the server's keep-alive timeout finds the pooled socket
// closed ("other side closed").  Every control request is idempotent.
async function fetch(url, opts) {
  try {
    return await globalThis.fetch(url, opts);
  } catch (e) {
    if (!e.cause || !["UND_ERR_SOCKET", "ECONNRESET"].includes(e.cause.code)) throw e;
    return globalThis.fetch(url, opts);
  }
}

export async function start(config = {}) {
  const child = spawn(process.execPath, [path.join(here, "server.mjs")], {
    env: {
      ...process.env,
      NODE_OPTIONS: "--openssl-legacy-provider",
      RIG_CONFIG: JSON.stringify(config),
    },
    stdio: ["pipe", "pipe", "inherit"], // stdin: closes when we die
  });
  const info = await new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)));
    });
    child.on("exit", (code) => reject(new Error(`aws rig exited with ${code}`)));
  });
  const rig = {
    ...info,
    // the W3C ClearKey licence server (speke.mjs): keys the SPEKE server
    // handed out
    clearKey: `${info.speke}/clearkey`,
    child,
    // Environment for our binaries and for /usr/bin/aws.
    env(extra = {}) {
      return {
        ...process.env,
        AWS_ACCESS_KEY_ID: info.accessKey,
        AWS_SECRET_ACCESS_KEY: info.secretKey,
        AWS_REGION: info.region,
        AWS_DEFAULT_REGION: info.region,
        AWS_ENDPOINT_URL_S3: info.s3,
        AWS_ENDPOINT_URL_SQS: info.sqs,
        AWS_ENDPOINT_URL_BATCH: info.batch,
        AWS_ENDPOINT_URL_EVENTBRIDGE: info.eventbridge,
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
        AWS_CONFIG_FILE: "/dev/null",
        ...extra,
      };
    },
    // The next `count` S3 requests (only those whose path contains `match`,
    // when given) answer status/code.
    async inject(count, status = 503, code = "SlowDown", match = "") {
      const q = new URLSearchParams({ count, status, code, match });
      const r = await fetch(`${info.s3}/__rig/inject?${q}`, { method: "POST" });
      return r.json();
    },
    // Batch faults, each used once: [{ op: "submitjob"|"listjobs"|"any", status, code }].
    async batchFaults(list) {
      await fetch(`${info.batch}/__rig/batch-faults`, { method: "POST", body: JSON.stringify(list) });
    },
    // Fault rules for the S3 and SQS fault proxies (faults.mjs documents a
    // rule), replacing the ones set before; [] clears them.
    async faults(rules = []) {
      for (const svc of ["s3", "sqs"]) {
        await fetch(`${info[svc]}/__faults`, { method: "POST",
          body: JSON.stringify(rules.filter((r) => r.service === svc)) });
      }
    },
    // What the fault proxies saw: { s3: {log, requests}, sqs: {log, requests} }
    // (log: the faults applied; requests: every request, {t, method, subject,
    // query}).
    async faultLog() {
      const out = {};
      for (const svc of ["s3", "sqs"])
        out[svc] = await (await fetch(`${info[svc]}/__faults`)).json();
      return out;
    },
    async batchCalls() {
      return (await (await fetch(`${info.batch}/__rig/stats`)).json()).batchCalls;
    },
    // The S3 notification bodies the bridge sent, oldest first.
    async events() {
      return (await (await fetch(`${info.s3}/__rig/stats`)).json()).events;
    },
    // The EventBridge entries PutEvents accepted, oldest first (each with
    // EventBusName, the signing service and region, and its eventId).
    async putEvents() {
      return (await (await fetch(`${info.eventbridge}/__rig/stats`)).json()).putEvents;
    },
    // EventBridge faults: the next PutEvents calls answer [{status, code}], once each.
    async eventsFaults(list) {
      await fetch(`${info.eventbridge}/__rig/events-faults`, { method: "POST", body: JSON.stringify(list) });
    },
    // The SPEKE key server's requests, oldest first: {path, signed ({service,
    // region}, or null), headers, body, resourceId, kid, scheme, systems, or
    // error when the request was refused}.
    async spekeRequests() {
      return (await (await fetch(`${info.speke}/__rig/stats`)).json()).spekeRequests;
    },
    // The ClearKey licence server's requests, oldest first: {status, kids
    // (hex), error when refused}.
    async clearKeyRequests() {
      return (await (await fetch(`${info.speke}/__rig/stats`)).json()).clearKeyRequests;
    },
    // SPEKE faults, each used once (speke.mjs): [{kind: "status", status} |
    // {kind: "malformed" | "nokey" | "encrypted" | "badpssh"}].
    async spekeFaults(list) {
      await fetch(`${info.speke}/__rig/speke-faults`, { method: "POST", body: JSON.stringify(list) });
    },
    async stats() {
      return (await (await fetch(`${info.s3}/__rig/stats`)).json()).stats;
    },
    async submitted() {
      return (await (await fetch(`${info.batch}/__rig/stats`)).json()).submitted;
    },
  };
  return rig;
}

export async function stop(rig) {
  if (!rig || rig.child.exitCode !== null) return;
  const done = new Promise((r) => rig.child.on("exit", r));
  rig.child.kill("SIGTERM");
  await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
  if (rig.child.exitCode === null) rig.child.kill("SIGKILL");
}
