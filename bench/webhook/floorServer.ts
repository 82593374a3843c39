// The floor of the webhook benchmark: a bare Node.js HTTPS server that reads the request body and answers
// a fixed allowed AdmissionReview. Usage: node floorServer.ts <cert> <key> <port>; prints "listening".
import { readFileSync } from "node:fs";
import { createServer } from "node:https";

const [certFile = "", keyFile = "", port = ""] = process.argv.slice(2);

const FIXED = JSON.stringify({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  response: { uid: "4b3c2f1e-8a47-4f2b-9d5e-3c1a7b9e2d10", allowed: true, status: { code: 200 } },
});

const server = createServer(
  { cert: readFileSync(certFile), key: readFileSync(keyFile), keepAliveTimeout: 120_000 },
  (req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(FIXED));
  },
);
server.listen(Number(port), "127.0.0.1", () => console.log("listening"));
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
