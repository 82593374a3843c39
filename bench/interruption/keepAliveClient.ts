// Plain HTTPS calls to the apiserver over kept-alive connections, with the kubeconfig's credentials.
// @kubernetes/client-node 2.x builds a new undici Agent for every request, so each of its calls opens a new
// mutual-TLS connection; the benchmark uses this client where that cost is not what it measures.
import { Agent, request, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

export class ApiStatusError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined) {
    super(message);
    this.status = status;
  }
}

export interface KeepAliveClient {
  /** Resolves with the parsed body of a 2xx answer; rejects with ApiStatusError otherwise. */
  call(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown>;
  close(): void;
}

export async function keepAliveClient(kc: KubeConfig, maxSockets: number): Promise<KeepAliveClient> {
  const tls: RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error("the kubeconfig names no server");
  const agent = new Agent({ keepAlive: true, maxSockets, ca: tls.ca, cert: tls.cert, key: tls.key });
  const call = (method: string, path: string, body?: unknown, contentType = "application/json") =>
    new Promise<unknown>((resolve, reject) => {
      const req = request(
        new URL(path, server),
        {
          method,
          agent,
          headers: { ...tls.headers, "content-type": contentType, accept: "application/json" },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(text ? JSON.parse(text) : undefined);
            else
              reject(new ApiStatusError(`${method} ${path}: HTTP ${status} ${text.slice(0, 300)}`, status));
          });
        },
      );
      req.on("error", (err) => reject(new ApiStatusError(`${method} ${path}: ${err.message}`, undefined)));
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  return { call, close: () => agent.destroy() };
}
