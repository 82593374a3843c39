// The HTTPS listener: TLS from files, swapped in place by setSecureContext() when they change (open
// connections keep their session), and a graceful close that lets in-flight requests finish.
import type { Server } from "node:https";
import type { RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../core/log.ts";
import { CertWatcher, readKeyPair, type CertWatcherMetrics } from "./certWatcher.ts";

export interface ServeOptions {
  app: RequestListener;
  port: number;
  host?: string;
  certFile: string;
  keyFile: string;
  log: Logger;
  certPollIntervalMs?: number;
  /** Where the certificate watcher counts its reads. */
  certMetrics?: CertWatcherMetrics | undefined;
  /** After this long, connections still open at shutdown are cut. */
  shutdownTimeoutMs?: number;
}

export interface WebhookServer {
  server: Server;
  port: number;
  isReady(): boolean;
  /** Stops accepting, waits for in-flight requests, then closes. */
  close(): Promise<void>;
}

export async function startWebhookServer(options: ServeOptions): Promise<WebhookServer> {
  const { log } = options;
  const pair = await readKeyPair(options.certFile, options.keyFile);
  // not an ES module import of node:https, for the reason given in core/healthServer.ts
  const server = process.getBuiltinModule("node:https").createServer(
    {
      ...pair,
      minVersion: "TLSv1.2",
      // Longer than the Go client's 90 s idle timeout, so the apiserver closes idle connections first
      // and never reuses one this side is closing.
      keepAliveTimeout: 120_000,
      requestTimeout: 30_000,
    },
    options.app,
  );
  const certs = new CertWatcher({
    certFile: options.certFile,
    keyFile: options.keyFile,
    log,
    initial: pair,
    pollIntervalMs: options.certPollIntervalMs,
    metrics: options.certMetrics,
    onChange: (next) => server.setSecureContext(next),
  });
  server.on("tlsClientError", (err) => log.debug({ err }, "TLS handshake failed"));

  let ready = false;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  certs.start();
  ready = true;
  const port = (server.address() as AddressInfo).port;
  log.info({ port }, "admission webhook listening (HTTPS)");

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      ready = false;
      certs.stop();
      // Keep-alive connections become idle as their last request finishes; close each as it does.
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      const deadline = setTimeout(() => {
        log.warn("shutdown timeout reached; closing the remaining connections");
        server.closeAllConnections();
      }, options.shutdownTimeoutMs ?? 25_000);
      server.close(() => {
        clearInterval(sweep);
        clearTimeout(deadline);
        resolve();
      });
      server.closeIdleConnections();
    }));

  return { server, port, isReady: () => ready, close };
}
