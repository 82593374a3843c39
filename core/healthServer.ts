// Probes and metrics on a separate plain-HTTP port (both processes), so the kubelet and Prometheus need no TLS trust.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Logger } from "./log.ts";
import { toError } from "./errors.ts";

export interface HealthServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** What /readyz reports (webhook: TLS loaded and listening; watcher: node index synced). */
  isReady: () => boolean;
  log: Logger;
}

export interface HealthServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/**
 * `node:http` as CommonJS has it: importing it as an ES module builds a facade that reads every export,
 * which loads Node's bundled fetch client (about 10 MiB of memory the webhook never uses).
 */
const nodeHttp = process.getBuiltinModule("node:http");

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const { registry, isReady, log } = options;
  const server = nodeHttp.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const text = (code: number, body: string) =>
      res.writeHead(code, { "content-type": "text/plain; charset=utf-8" }).end(body + "\n");
    if (req.method !== "GET" && req.method !== "HEAD") return text(405, "method not allowed");
    if (path === "/healthz") return text(200, "ok");
    if (path === "/readyz") return isReady() ? text(200, "ok") : text(503, "not ready");
    if (path !== "/metrics") return text(404, "not found; try /healthz, /readyz or /metrics");
    registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
      (err: unknown) => {
        log.error({ err: toError(err) }, "collecting metrics failed");
        text(500, "collecting metrics failed");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port }, "health and metrics listening (HTTP)");
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
