// Benchmark target, run in its own process: `webhook` starts the real `spot-orchestrator webhook`;
// `floor` is a bare https server that reads the body and answers a fixed allowed review (the floor).
// Tells the parent it is ready over IPC.
import { readFileSync } from "node:fs";
import { createServer } from "node:https";

const [mode = "", certFile = "", keyFile = "", port = "", healthPort = ""] = process.argv.slice(2);

process.on("message", (message) => {
  if (message === "cpu") process.send?.(process.cpuUsage());
});

const FIXED = JSON.stringify({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  response: { uid: "4b3c2f1e-8a47-4f2b-9d5e-3c1a7b9e2d10", allowed: true, status: { code: 200 } },
});

if (mode === "floor") {
  const server = createServer(
    { cert: readFileSync(certFile), key: readFileSync(keyFile), keepAliveTimeout: 120_000 },
    (req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(FIXED));
    },
  );
  server.listen(Number(port), "127.0.0.1", () => process.send?.("ready"));
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
} else {
  const { webhookCommand } = await import("../webhook/command.ts");
  const running = webhookCommand([
    ...["--tls-cert", certFile, "--tls-key", keyFile, "--port", port, "--health-port", healthPort],
  ]);
  running.catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then(
      (res) => res.ok,
      () => false,
    );
    if (ready) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.send?.("ready");
  await running;
  process.exit(0); // the IPC channel would keep the process alive
}
