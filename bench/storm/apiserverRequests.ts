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
  /** apiserver_response_sizes_sum (bytes) by the same kinds. */
  bytesByKind: Record<string, number>;
}

export async function apiserverRequests(kc: KubeConfig, flowSchema: string): Promise<RequestCounts> {
  const text = await apiserverMetrics(kc);
  return {
    flowSchema: metricValue(text, "apiserver_flowcontrol_dispatched_requests_total", {
      flow_schema: flowSchema,
    }),
    all: metricValue(text, "apiserver_request_total"),
    byKind: sumByKind(text, "apiserver_request_total"),
    bytesByKind: sumByKind(text, "apiserver_response_sizes_sum"),
  };
}

function sumByKind(text: string, metric: string): Record<string, number> {
  const byKind: Record<string, number> = {};
  for (const [, labels, value] of text.matchAll(new RegExp(`^${metric}\\{([^}]*)\\} (\\S+)$`, "gm"))) {
    const label = (name: string) => new RegExp(`(?:^|,)${name}="([^"]*)"`).exec(labels!)?.[1] ?? "";
    const sub = label("subresource");
    const kind = `${label("verb")} ${label("resource")}${sub ? `/${sub}` : ""}`;
    byKind[kind] = (byKind[kind] ?? 0) + Number(value);
  }
  return byKind;
}

/** The difference of two readings. */
export function requestsBetween(before: RequestCounts, after: RequestCounts): RequestCounts {
  return {
    flowSchema: after.flowSchema - before.flowSchema,
    all: after.all - before.all,
    byKind: growth(before.byKind, after.byKind),
    bytesByKind: growth(before.bytesByKind, after.bytesByKind),
  };
}

function growth(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const grown: Record<string, number> = {};
  for (const [kind, value] of Object.entries(after)) {
    const delta = value - (before[kind] ?? 0);
    if (delta > 0) grown[kind] = delta;
  }
  return grown;
}

/** The most frequent kinds, as `PATCH deployments 500 (1.2 MiB), ...`: how many, and the bytes answered. */
export function topKinds(counts: RequestCounts, n = 8): string {
  const mib = (bytes: number | undefined) => `${((bytes ?? 0) / 2 ** 20).toFixed(1)} MiB`;
  return Object.entries(counts.byKind)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([kind, count]) => `${kind} ${count} (${mib(counts.bytesByKind[kind])})`)
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
