// Requests the apiserver itself counted, from its /metrics: those of one FlowSchema (the watcher's own, see
// watcherIdentity.ts), and all of them (apiserver_request_total, every client of the shared cluster).
import { request, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { metricValue } from "../../harness/stack/stack.ts";

export interface RequestCounts {
  /** apiserver_flowcontrol_dispatched_requests_total of the FlowSchema. */
  flowSchema: number;
  /** apiserver_request_total over every label. */
  all: number;
  /** apiserver_request_total by `VERB resource[/subresource]`, every client. */
  byKind: Record<string, number>;
}

export async function apiserverRequests(kc: KubeConfig, flowSchema: string): Promise<RequestCounts> {
  const text = await apiserverMetrics(kc);
  return {
    flowSchema: metricValue(text, "apiserver_flowcontrol_dispatched_requests_total", {
      flow_schema: flowSchema,
    }),
    all: metricValue(text, "apiserver_request_total"),
    byKind: requestsByKind(text),
  };
}

function requestsByKind(text: string): Record<string, number> {
  const byKind: Record<string, number> = {};
  for (const [, labels, value] of text.matchAll(/^apiserver_request_total\{([^}]*)\} (\S+)$/gm)) {
    const label = (name: string) => new RegExp(`(?:^|,)${name}="([^"]*)"`).exec(labels!)?.[1] ?? "";
    const sub = label("subresource");
    const kind = `${label("verb")} ${label("resource")}${sub ? `/${sub}` : ""}`;
    byKind[kind] = (byKind[kind] ?? 0) + Number(value);
  }
  return byKind;
}

/** The difference of two readings. */
export function requestsBetween(before: RequestCounts, after: RequestCounts): RequestCounts {
  const byKind: Record<string, number> = {};
  for (const [kind, count] of Object.entries(after.byKind)) {
    const delta = count - (before.byKind[kind] ?? 0);
    if (delta > 0) byKind[kind] = delta;
  }
  return { flowSchema: after.flowSchema - before.flowSchema, all: after.all - before.all, byKind };
}

/** The most frequent kinds, as `PATCH deployments 500, ...`. */
export function topKinds(counts: RequestCounts, n = 8): string {
  return Object.entries(counts.byKind)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(", ");
}

async function apiserverMetrics(kc: KubeConfig): Promise<string> {
  const options: RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error("the kubeconfig names no server");
  return new Promise((resolve, reject) => {
    const req = request(new URL("/metrics", server), { ...options, method: "GET" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode === 200) resolve(text);
        else reject(new Error(`apiserver /metrics answered ${res.statusCode}: ${text.slice(0, 200)}`));
      });
    });
    req.on("error", reject);
    req.end();
  });
}
