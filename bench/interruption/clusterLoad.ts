// A big cluster for the memory figure: many kwok spot nodes and many pods bound straight to them, created
// a bounded number at a time and within a time budget (a 2-core machine may not make it; the caller reports
// how far it got), and deleted again the same way. Kept-alive connections: setup, not what is measured.
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig, V1Node, V1NodeList } from "@kubernetes/client-node";
import { mapLimit } from "../../core/mapLimit.ts";
import { ApiStatusError, keepAliveClient, type KeepAliveClient } from "./keepAliveClient.ts";
import { benchNodeLabel, benchNodeManifest, boundPod } from "./manifests.ts";
import { pollUntil } from "./pollUntil.ts";

export interface LoadProgress {
  nodes: string[];
  pods: string[];
  nodesSeconds: number;
  podsSeconds: number;
  /** Seconds from the first node's creation until kwok reported every created node Ready. */
  nodesReadySeconds: number | undefined;
  /** Whether the budget ran out before everything was created. */
  cutShort: boolean;
}

export interface LoadOptions {
  nodes: number;
  pods: number;
  concurrency: number;
  budgetMs: number;
  /** Receives what exists so far, so a failure or interrupt can still clean up. */
  progress: LoadProgress;
}

export async function createClusterLoad(
  kc: KubeConfig,
  namespace: string,
  options: LoadOptions,
): Promise<void> {
  const { progress } = options;
  const deadline = performance.now() + options.budgetMs;
  const inBudget = () => performance.now() < deadline || ((progress.cutShort = true), false);
  const client = await keepAliveClient(kc, options.concurrency);
  try {
    const loadStart = performance.now();
    await mapLimit(range(options.nodes), options.concurrency, async () => {
      if (!inBudget()) return;
      for (let attempt = 0; ; attempt++) {
        try {
          const created = (await retryTransient(() =>
            client.call("POST", "/api/v1/nodes", benchNodeManifest(58)),
          )) as V1Node;
          progress.nodes.push(created.metadata?.name ?? "");
          return;
        } catch (err) {
          // a random address already taken: draw another
          if (!(err instanceof ApiStatusError && err.status === 409) || attempt > 5) throw err;
        }
      }
    });
    progress.nodesSeconds = (performance.now() - loadStart) / 1000;

    const start = performance.now();
    const nodes = [...progress.nodes];
    await mapLimit(range(options.pods), options.concurrency, async (i) => {
      if (!inBudget() || nodes.length === 0) return;
      const name = `load-${String(i).padStart(5, "0")}`;
      const body = boundPod(name, nodes[i % nodes.length]!, "load");
      await retryTransient(() => client.call("POST", `/api/v1/namespaces/${namespace}/pods`, body));
      progress.pods.push(name);
    });
    progress.podsSeconds = (performance.now() - start) / 1000;

    await pollUntil(
      `${nodes.length} bench nodes to be Ready`,
      async () => (await readyBenchNodes(client)) >= nodes.length,
      { timeoutMs: Math.max(30_000, deadline - performance.now()), intervalMs: 2_000 },
    )
      .then(() => (progress.nodesReadySeconds = (performance.now() - loadStart) / 1000))
      .catch(() => (progress.nodesReadySeconds = undefined));
  } finally {
    client.close();
  }
}

export async function deleteClusterLoad(
  kc: KubeConfig,
  namespace: string,
  progress: LoadProgress,
  concurrency: number,
): Promise<number> {
  const client = await keepAliveClient(kc, concurrency);
  const start = performance.now();
  const remove = (path: string) =>
    retryTransient(() =>
      client.call("DELETE", `${path}?gracePeriodSeconds=0`).catch((err: unknown) => {
        if (!(err instanceof ApiStatusError && err.status === 404)) throw err;
      }),
    );
  try {
    await mapLimit(progress.pods, concurrency, (name) =>
      remove(`/api/v1/namespaces/${namespace}/pods/${name}`),
    );
    await mapLimit(progress.nodes, concurrency, (name) => remove(`/api/v1/nodes/${name}`));
  } finally {
    client.close();
  }
  return (performance.now() - start) / 1000;
}

async function readyBenchNodes(client: KeepAliveClient): Promise<number> {
  const list = (await client.call(
    "GET",
    `/api/v1/nodes?labelSelector=${encodeURIComponent(`${benchNodeLabel}=true`)}&resourceVersion=0`,
  )) as V1NodeList;
  return list.items.filter((node) =>
    node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  ).length;
}

/**
 * Retries 429, 5xx and connection failures a few times: pod admission passes other runs' webhooks on a
 * shared cluster (the Fargate emulator), which come and go.
 */
async function retryTransient<T>(call: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const status = err instanceof ApiStatusError ? err.status : undefined;
      const transient = status === undefined || status === 429 || status >= 500;
      if (!transient || attempt >= attempts) throw err;
      await sleep(500 * attempt);
    }
  }
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}
