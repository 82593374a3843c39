import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Operation } from "fast-json-patch";
import { generateSelfSigned } from "../../webhook/selfSigned.ts";

/** The parts of an admission.k8s.io/v1 AdmissionRequest the test webhooks read. */
export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  operation: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  namespace?: string;
  name?: string;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
  userInfo: { username?: string; groups?: string[] };
}

export interface AdmissionDecision {
  allowed: boolean;
  message?: string;
  patch?: Operation[];
  warnings?: string[];
}

export type AdmissionHandler = (request: AdmissionRequest) => AdmissionDecision | Promise<AdmissionDecision>;

export interface AdmissionServer {
  /** https://127.0.0.1:<port>/<path> for a webhook's clientConfig.url */
  url(path?: string): string;
  /** base64 PEM CA for clientConfig.caBundle */
  caBundle: string;
  close(): Promise<void>;
}

/** An HTTPS admission webhook on a random loopback port, answering every POST with `handler`. */
export async function startAdmissionServer(handler: AdmissionHandler): Promise<AdmissionServer> {
  const tls = generateSelfSigned({ validDays: 1 });
  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      void (async () => {
        let status = 200;
        let body: unknown;
        try {
          const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
            apiVersion: string;
            request: AdmissionRequest;
          };
          const decision = await handler(review.request);
          body = {
            apiVersion: review.apiVersion,
            kind: "AdmissionReview",
            response: toResponse(review.request.uid, decision),
          };
        } catch (err) {
          // a 500 lets the webhook's failurePolicy decide, as with a real webhook crash
          status = 500;
          body = { error: err instanceof Error ? err.message : String(err) };
        }
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: (path = "/") => `https://127.0.0.1:${port}${path.startsWith("/") ? path : `/${path}`}`,
    caBundle: Buffer.from(tls.caPem).toString("base64"),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function toResponse(uid: string, decision: AdmissionDecision): Record<string, unknown> {
  const response: Record<string, unknown> = { uid, allowed: decision.allowed };
  if (!decision.allowed)
    response.status = { code: 403, reason: "Forbidden", message: decision.message ?? "" };
  if (decision.warnings?.length) response.warnings = decision.warnings;
  if (decision.allowed && decision.patch?.length) {
    response.patchType = "JSONPatch";
    response.patch = Buffer.from(JSON.stringify(decision.patch)).toString("base64");
  }
  return response;
}
