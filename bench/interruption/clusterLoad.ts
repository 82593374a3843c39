// A big cluster for the memory figure: many kwok spot nodes and many pods bound straight to them, created
// a bounded number at a time and within a time budget (a 2-core machine may not make it; the caller reports
// how far it got), and deleted again the same way.
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { ignoreNotFound, statusCodeOf } from "../../test/cluster/api-errors.ts";
import { mapLimit } from "../../watcher/migrate.ts";
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
  const core = kc.makeApiClient(CoreV1Api);
  const { progress } = options;
  const deadline = performance.now() + options.budgetMs;
  const inBudget = () => performance.now() < deadline || ((progress.cutShort = true), false);

  const loadStart = performance.now();
  let start = loadStart;
  await mapLimit(range(options.nodes), options.concurrency, async () => {
    if (!inBudget()) return;
    for (let attempt = 0; ; attempt++) {
      try {
        const created = await retryTransient(() => core.createNode({ body: benchNodeManifest(58) }));
        progress.nodes.push(created.metadata?.name ?? "");
        return;
      } catch (err) {
        // a random address already taken: draw another
        if (statusCodeOf(err) !== 409 || attempt > 5) throw err;
      }
    }
  });
  progress.nodesSeconds = (performance.now() - start) / 1000;

  start = performance.now();
  const nodes = [...progress.nodes];
  await mapLimit(range(options.pods), options.concurrency, async (i) => {
    if (!inBudget() || nodes.length === 0) return;
    const name = `load-${String(i).padStart(5, "0")}`;
    const body = boundPod(name, nodes[i % nodes.length]!, "load");
    await retryTransient(() => core.createNamespacedPod({ namespace, body }));
    progress.pods.push(name);
  });
  progress.podsSeconds = (performance.now() - start) / 1000;

  const remaining = Math.max(30_000, deadline - performance.now());
  await pollUntil(
    `${nodes.length} bench nodes to be Ready`,
    async () => (await readyBenchNodes(core)) >= nodes.length,
    { timeoutMs: remaining, intervalMs: 2_000 },
  )
    .then(() => (progress.nodesReadySeconds = (performance.now() - loadStart) / 1000))
    .catch(() => (progress.nodesReadySeconds = undefined));
}

export async function deleteClusterLoad(
  kc: KubeConfig,
  namespace: string,
  progress: LoadProgress,
  concurrency: number,
): Promise<number> {
  const core = kc.makeApiClient(CoreV1Api);
  const start = performance.now();
  await mapLimit(progress.pods, concurrency, (name) =>
    ignoreNotFound(() => core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 })),
  );
  await mapLimit(progress.nodes, concurrency, (name) => ignoreNotFound(() => core.deleteNode({ name })));
  return (performance.now() - start) / 1000;
}

async function readyBenchNodes(core: CoreV1Api): Promise<number> {
  const list = await core.listNode({ labelSelector: `${benchNodeLabel}=true`, resourceVersion: "0" });
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
      const status = statusCodeOf(err);
      const transient = status === undefined || status === 429 || status >= 500;
      if (!transient || attempt >= attempts) throw err;
      await sleep(500 * attempt);
    }
  }
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}
