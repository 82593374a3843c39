// The watcher's memory in an idle small cluster and in a big one (5,000 nodes, 50,000 pods by default), each
// time idle and after handling one interruption, measured on one watcher process started for the purpose;
// then a watcher started in the big cluster: how long until it leads with a warm index, and its memory.
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { metricValue, type Stack } from "../../harness/stack/stack.ts";
import { createClusterLoad, deleteClusterLoad, type LoadProgress } from "./clusterLoad.ts";
import { createFleet, deleteFleet, type Fleet } from "./fleet.ts";
import { watcherFlip, type RunContext, type WatcherFlip } from "./interruptionRun.ts";
import { settledResident, type Resident } from "../proc.ts";
import { startTimedWatcher, type TimedWatcher } from "./watcherStart.ts";
import { metricsText } from "./watcherProbe.ts";

export interface MemorySample extends Resident {
  /** V8 heap in use (the watcher's nodejs_heap_size_used_bytes). */
  heapUsedMiB: number;
}

export interface MemoryResult {
  /** `startMs`: the watcher's start → leading with a warm index. */
  baseline: { nodes: number; pods: number; idle: MemorySample; afterEvent: MemorySample; startMs: number };
  loaded: { nodes: number; pods: number; idle: MemorySample; afterEvent: MemorySample };
  /** A watcher started in the loaded cluster. */
  restarted: { idle: MemorySample; startMs: number };
  load: Omit<LoadProgress, "nodes" | "pods"> & { nodesCreated: number; podsCreated: number };
  /** The interruption handled in each state (10 opted-in Deployments on one node). */
  flips: { baseline: WatcherFlip; loaded: WatcherFlip };
  cleanupSeconds: number;
}

export interface MemoryOptions {
  nodes: number;
  pods: number;
  concurrency: number;
  budgetMs: number;
  watcherEnv: Record<string, string>;
  logDir: string;
  log: (line: string) => void;
}

/** The watcher started for the phase, on a queue of its own, and how to sample its memory. */
interface MemoryWatcher {
  watcher: TimedWatcher;
  env: Record<string, string>;
  ctx: RunContext;
  sample: (of?: TimedWatcher) => Promise<MemorySample>;
}

type Counts = { nodes: number; pods: number };

export async function memoryPhase(
  kc: KubeConfig,
  namespace: string,
  stack: Stack,
  options: MemoryOptions,
): Promise<MemoryResult> {
  const run = await startMemoryWatcher(kc, namespace, stack, options);
  const { ctx, watcher } = run;
  const baseline = await measureBaseline(run, options.log);
  const progress: LoadProgress = {
    nodes: [],
    pods: [],
    nodesSeconds: 0,
    podsSeconds: 0,
    nodesReadySeconds: undefined,
    cutShort: false,
  };
  let cleanupSeconds = 0;
  let result: Omit<MemoryResult, "cleanupSeconds">;
  // the loaded interruption's node and pods are made before the load: with thousands of nodes to heartbeat,
  // kwok can take minutes to make a new node Ready, which would measure kwok, not the watcher
  const loadedFleet = await createFleet(ctx.kc, ctx.namespace, "mem-load", 10);
  try {
    await loadCluster(kc, namespace, options, progress);
    const loaded = await measureLoaded(run, loadedFleet, options.log);
    const restarted = await measureRestart(run, stack, options);
    const { nodes, pods, ...timings } = progress;
    result = {
      baseline: {
        ...baseline.counts,
        idle: baseline.idle,
        afterEvent: baseline.afterEvent,
        startMs: watcher.startMs,
      },
      loaded: { ...loaded.counts, idle: loaded.idle, afterEvent: loaded.afterEvent },
      restarted,
      load: { ...timings, nodesCreated: nodes.length, podsCreated: pods.length },
      flips: { baseline: baseline.flip, loaded: loaded.flip },
    };
  } finally {
    options.log(`memory: deleting ${progress.pods.length} pods and ${progress.nodes.length} nodes`);
    cleanupSeconds = await deleteClusterLoad(kc, namespace, progress, options.concurrency);
    await deleteFleet(ctx.kc, ctx.namespace, loadedFleet);
    await watcher.process.stop();
  }
  return { ...result, cleanupSeconds };
}

async function startMemoryWatcher(
  kc: KubeConfig,
  namespace: string,
  stack: Stack,
  options: MemoryOptions,
): Promise<MemoryWatcher> {
  // A queue of its own: the stopped watcher's aborted long poll may still be parked on the old queue in
  // the emulator, and would swallow the next message for a visibility timeout.
  const queueUrl = await stack.sqs.createQueue(`memory-${namespace}`, { VisibilityTimeout: "30" });
  const env = { ...options.watcherEnv, SQS_QUEUE_URL: queueUrl };
  const watcher = await startTimedWatcher(stack, "memory-watcher", env, options.logDir);
  options.log(`memory: the watcher led with a warm index ${watcher.startMs.toFixed(0)} ms after its start`);
  const ctx: RunContext = {
    kc,
    namespace,
    queue: { client: stack.sqsClient, url: queueUrl },
    watcher: { healthPort: watcher.healthPort, logFile: watcher.process.logFile },
  };
  const sample = async (of = watcher): Promise<MemorySample> => ({
    ...(await settledResident(of.pid)),
    heapUsedMiB: metricValue(await metricsText(of.healthPort), "nodejs_heap_size_used_bytes") / 2 ** 20,
  });
  return { watcher, env, ctx, sample };
}

/** The small cluster: memory idle, one interruption of 10 Deployments, memory after it. */
async function measureBaseline(
  { ctx, sample }: MemoryWatcher,
  log: (line: string) => void,
): Promise<{ counts: Counts; idle: MemorySample; flip: WatcherFlip; afterEvent: MemorySample }> {
  await sleep(5_000);
  const counts = await clusterCounts(ctx.kc);
  const idle = await sample();
  log(`memory: baseline idle RSS ${idle.rssMiB.toFixed(1)} MiB`);
  const flip = await flipOnce(ctx, "mem-base");
  log(`memory: baseline interruption flipped 10 Deployments in ${flip.watcherMs.toFixed(0)} ms`);
  const afterEvent = await sample();
  return { counts, idle, flip, afterEvent };
}

/** Creates the big cluster's nodes and pods (within the time budget), noting progress as it goes. */
async function loadCluster(
  kc: KubeConfig,
  namespace: string,
  options: MemoryOptions,
  progress: LoadProgress,
): Promise<void> {
  options.log(
    `memory: creating ${options.nodes} nodes and ${options.pods} pods (${options.concurrency} in flight)`,
  );
  await createClusterLoad(kc, namespace, { ...options, progress });
  options.log(
    `memory: ${progress.nodes.length} nodes in ${progress.nodesSeconds.toFixed(1)} s, ` +
      `${progress.pods.length} pods in ${progress.podsSeconds.toFixed(1)} s` +
      (progress.cutShort ? " (time budget ran out)" : ""),
  );
}

/** The big cluster: memory idle, the fleet's interruption, memory after it. */
async function measureLoaded(
  { ctx, sample }: MemoryWatcher,
  fleet: Fleet,
  log: (line: string) => void,
): Promise<{ counts: Counts; idle: MemorySample; flip: WatcherFlip; afterEvent: MemorySample }> {
  // let the watcher's node informer take in the nodes and kwok's status updates
  await sleep(10_000);
  const counts = await clusterCounts(ctx.kc);
  const idle = await sample();
  log(`memory: loaded idle RSS ${idle.rssMiB.toFixed(1)} MiB`);
  const flip = await flipFleet(ctx, fleet);
  log(`memory: loaded interruption flipped 10 Deployments in ${flip.watcherMs.toFixed(0)} ms`);
  const afterEvent = await sample();
  return { counts, idle, flip, afterEvent };
}

/** A watcher started in the big cluster: how long until it leads, and its memory idle. */
async function measureRestart(
  { watcher, env, sample }: MemoryWatcher,
  stack: Stack,
  options: MemoryOptions,
): Promise<{ idle: MemorySample; startMs: number }> {
  // the Lease is released on a graceful stop: the next watcher leads as soon as its indexes have listed
  await watcher.process.stop();
  const restarted = await startTimedWatcher(stack, "memory-watcher-2", env, options.logDir);
  options.log(`memory: a watcher started in the loaded cluster led after ${restarted.startMs.toFixed(0)} ms`);
  await sleep(5_000);
  const idle = await sample(restarted).finally(() => restarted.process.stop());
  options.log(`memory: its idle RSS ${idle.rssMiB.toFixed(1)} MiB`);
  return { idle, startMs: restarted.startMs };
}

async function flipOnce(ctx: RunContext, run: string): Promise<WatcherFlip> {
  const fleet = await createFleet(ctx.kc, ctx.namespace, run, 10);
  try {
    return await flipFleet(ctx, fleet);
  } finally {
    await deleteFleet(ctx.kc, ctx.namespace, fleet);
  }
}

/** The watcher moves the fleet's Deployments off its node; then it settles a moment. */
async function flipFleet(ctx: RunContext, fleet: Fleet): Promise<WatcherFlip> {
  const result = await watcherFlip(ctx, fleet);
  await sleep(3_000);
  return result;
}

/** Nodes and pods in the whole cluster (the pods counted from one page's remainingItemCount). */
async function clusterCounts(kc: KubeConfig): Promise<Counts> {
  const core = kc.makeApiClient(CoreV1Api);
  const nodes = await core.listNode({ limit: 1 });
  const pods = await core.listPodForAllNamespaces({ limit: 1 });
  const count = (list: { items: unknown[]; metadata?: { remainingItemCount?: number } }) =>
    list.items.length + (list.metadata?.remainingItemCount ?? 0);
  return { nodes: count(nodes), pods: count(pods) };
}
