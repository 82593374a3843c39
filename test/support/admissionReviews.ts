// Shared by the webhook's tests: fixtures, a quiet app, and HTTP(S) clients that report what they saw.
import { readFileSync } from "node:fs";
import { createServer, type RequestListener } from "node:http";
import { request as httpsRequest, type Agent } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { PlacementConfig } from "../../core/placement.ts";
import { createApp } from "../../webhook/app.ts";
import { createMetrics, type WebhookMetrics } from "../../webhook/metrics.ts";
import { quietLog } from "./log.ts";

export const ORCHESTRATOR = "system:serviceaccount:spot-fargate-orchestrator:spot-fargate-orchestrator";
const NOW = new Date("2025-11-25T10:30:00.000Z");

export const placement: PlacementConfig = {
  computeLabelKey: "compute-type",
  spotLabel: "spot",
  fargateLabel: "fargate",
  spotNodeSelector: { "eks.amazonaws.com/capacityType": "SPOT" },
  spotTolerations: [],
  fargateNodeSelector: {},
  onDemandLabel: "on-demand",
  onDemandNodeSelector: { "eks.amazonaws.com/capacityType": "ON_DEMAND" },
  onDemandTolerations: [],
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** A fresh copy of a captured AdmissionReview from test/fixtures/admission. */
export function fixture(name: string): Json {
  return JSON.parse(readFileSync(new URL(`../fixtures/admission/${name}.json`, import.meta.url), "utf8"));
}

export function testApp(metrics: WebhookMetrics = createMetrics()) {
  return createApp({
    placement,
    orchestratorUsername: ORCHESTRATOR,
    optIn: { namespaces: [], deploymentName: "" },
    log: quietLog,
    metrics,
    now: () => NOW,
  });
}

/** Serves `listener` over plain HTTP on a loopback port; returns its base URL and a close function. */
export async function serveHttp(listener: RequestListener) {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get("content-type"), text, json: parseOrText(text) };
}

function parseOrText(text: string): Json {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface HttpsResult {
  status: number;
  json: Json;
  /** SHA-256 fingerprint of the certificate the server presented. */
  fingerprint: string;
  /** Local port of the connection, to tell whether a keep-alive connection was reused. */
  localPort: number;
}

export function httpsPost(
  port: number,
  path: string,
  body: unknown,
  options: { ca: string; agent?: Agent },
): Promise<HttpsResult> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        ca: options.ca,
        agent: options.agent ?? false, // a new connection unless an agent is given
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const fingerprint = socket.getPeerCertificate().fingerprint256;
        const localPort = socket.localPort ?? 0;
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, json: parseOrText(text), fingerprint, localPort });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}
