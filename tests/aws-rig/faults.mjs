// The fault-injecting proxy of the rig: in front of the SigV4-verifying
// proxy of S3 and of SQS (clients -> faults -> verifier -> emulator), it
// forwards every request unchanged (Host included, so signatures still
// verify) unless a rule matches it.  Rules are set at run time through the
// proxy's own /__faults endpoint (index.mjs: rig.faults(), rig.faultLog());
// setting rules also clears the log of what was seen before.
//
// A rule:
//   { service: "s3" | "sqs",            which proxy it applies to
//     method: "GET",                    optional, the HTTP method
//     match: "in/video.mp4",            optional: S3, a substring of the
//                                       decoded path; SQS, the action name
//                                       ("ChangeMessageVisibility")
//     action: "status" | "reset" | "hang" | "delay" | "cut",
//     status: 503, code: "SlowDown",    for "status"
//     delayMs: 2000,                    "delay": wait, then forward;
//                                       "hang": hold the request (no answer)
//                                       this long, then reset (default:
//                                       until the client gives up)
//     cutAfter: 65536,                  "cut": forward, then reset after this
//                                       many response body bytes
//     skip: 0,                          let the first N matches through
//     count: 3,                         apply N times (default: no limit)
//     forMs: 5000 }                     expire this long after being set
// "reset" destroys the connection before any answer.
import http from "node:http";

const SQS_ERRORS_JSON = "application/x-amz-json-1.0";

function sqsAction(req, body) {
  const target = req.headers["x-amz-target"];
  if (target) return String(target).replace(/^AmazonSQS\./, "");
  const q = new URLSearchParams(req.url.split("?")[1] || "");
  if (q.get("Action")) return q.get("Action");
  const form = new URLSearchParams(body.toString("utf8"));
  return form.get("Action") || "";
}

function what(service, req, body) {
  if (service === "sqs") return sqsAction(req, body);
  try {
    return decodeURIComponent(req.url.split("?")[0]);
  } catch {
    return req.url.split("?")[0];
  }
}

function answer(service, req, res, rule) {
  const status = rule.status || 503;
  const code = rule.code || (status === 503 ? "SlowDown" : "InternalError");
  const message = rule.message || `rig: injected ${status} ${code}`;
  if (service === "sqs" && req.headers["x-amz-target"]) {
    res.writeHead(status, { "content-type": SQS_ERRORS_JSON, "x-amzn-query-error": `${code};Sender` });
    res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message }));
  } else if (service === "sqs") { // the query protocol answers in XML
    res.writeHead(status, { "content-type": "text/xml" });
    res.end(`<?xml version="1.0"?>\n<ErrorResponse><Error><Type>Sender</Type>` +
      `<Code>${code}</Code><Message>${message}</Message></Error>` +
      `<RequestId>rig-fault</RequestId></ErrorResponse>`);
  } else {
    res.writeHead(status, { "content-type": "application/xml" });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
      `<Message>${message}</Message></Error>`);
  }
}

export function faultProxy(service, targetPort, host = "127.0.0.1") {
  let rules = [];
  const log = [];
  const requests = [];
  const note = (list, entry, max = 20000) => {
    list.push(entry);
    if (list.length > max) list.splice(0, list.length - max);
  };

  function pick(req, subject) {
    const now = Date.now();
    for (const r of rules) {
      if (r.expires && now > r.expires) continue;
      if (r.service && r.service !== service) continue;
      if (r.method && r.method !== req.method) continue;
      if (r.match && !subject.includes(r.match)) continue;
      if (r.count !== undefined && r.used >= r.count) continue;
      if (r.skipped < (r.skip || 0)) {
        r.skipped++;
        continue;
      }
      r.used++;
      return r;
    }
    return null;
  }

  function forward(req, res, body, cutAfter) {
    // a fresh connection each time: node 20's global agent keeps sockets
    // alive, and one the verifier closes while idle turns into a spurious
    // reset when reused
    const up = http.request({ host, port: targetPort, method: req.method, path: req.url,
      agent: false, headers: { ...req.headers, "content-length": String(body.length) } }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      if (cutAfter === undefined) return ur.pipe(res);
      let sent = 0;
      ur.on("data", (chunk) => {
        if (sent + chunk.length >= cutAfter) {
          res.write(chunk.subarray(0, Math.max(0, cutAfter - sent)));
          sent = cutAfter;
          ur.destroy();
          res.socket && res.socket.destroy();
          return;
        }
        sent += chunk.length;
        res.write(chunk);
      });
      ur.on("end", () => res.end());
    });
    up.on("error", () => res.socket && res.socket.destroy());
    up.end(body);
  }

  function control(req, res, body) {
    if (req.method === "POST") {
      const now = Date.now();
      rules = JSON.parse(body.toString("utf8") || "[]").map((r) => ({
        ...r, used: 0, skipped: 0, expires: r.forMs ? now + r.forMs : 0 }));
      // a new phase: what was seen before it is dropped
      log.length = 0;
      requests.length = 0;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ rules, log, requests }));
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (req.url.startsWith("/__faults")) return control(req, res, body);
      if (req.url.startsWith("/__rig/")) return forward(req, res, body);
      const subject = what(service, req, body);
      const rule = pick(req, subject);
      const entry = { t: Date.now(), method: req.method, subject,
        query: req.url.split("?")[1] || "" };
      note(requests, entry);
      if (!rule) return forward(req, res, body);
      entry.fault = rule.action;
      note(log, { ...entry });
      switch (rule.action) {
      case "status":
        return answer(service, req, res, rule);
      case "reset":
        return req.socket.destroy();
      case "hang":
        if (rule.delayMs) setTimeout(() => req.socket.destroy(), rule.delayMs);
        return; // no answer: the client's own timeout must end it
      case "delay":
        return setTimeout(() => forward(req, res, body), rule.delayMs || 1000);
      case "cut":
        return forward(req, res, body, rule.cutAfter || 0);
      default:
        return answer(service, req, res, { status: 500, code: "RigBadRule",
          message: `unknown action ${rule.action}` });
      }
    });
  });
  // a hung request must not keep the rig from exiting
  server.closeAllOnStop = () => server.closeAllConnections && server.closeAllConnections();
  return server;
}
