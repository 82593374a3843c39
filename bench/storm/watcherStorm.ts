// One storm through the product: the reclaimed nodes' warnings sent to the watcher's queue on the schedule,
// timed per target from its node's warning until a watch sees it with compute=fargate; the queue drained
// (every message deleted: each flip stored); optionally every replica Ready on Fargate. Meanwhile the
// watcher's process is sampled (/proc) and the apiserver counts its requests (its FlowSchema). Ends with what
// the storm did to every Deployment: each target moved once, nothing else touched.
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { KubeConfig } from "@kubernetes/client-node";
import { metricValue } from "../../harness/stack/stack.ts";
import { waitForEmptyQueue } from "../../harness/sqs/emptyQueue.ts";
import type { FargateReadyClock } from "../interruption/fargateReadyClock.ts";
import type { TimedWatcher } from "../interruption/watcherStart.ts";
import { metricsText } from "../interruption/watcherProbe.ts";
import { apiserverRequests, requestsBetween, type RequestCounts } from "./apiserverRequests.ts";
import { startFlipLedger, type LedgerVerdict } from "./flipLedger.ts";
import { settledResident } from "../proc.ts";
import { sampleProcess, type HeapReading, type ProcessUse } from "./processSampler.ts";
import { runWaves, sendWarnings, type Wave } from "./schedule.ts";
import type { StormFleet } from "./zoneFleet.ts";

export interface WatcherStormContext {
  kc: KubeConfig;
  namespace: string;
  fleet: StormFleet;
  queue: { client: SQSClient; url: string };
  watcher: TimedWatcher;
  /** The FlowSchema counting the watcher's requests. */
  flowSchema: string;
}

export interface WatcherStormResult {
  /** Per target: its node's warning sent → the watch saw compute=fargate. */
  flipMs: number[];
  /** The first warning → the last flip seen; → the queue empty; → every replica Ready (when timed). */
  lastFlipMs: number;
  queueEmptyMs: number;
  /** Per target: its node's warning → all its replicas Ready on Fargate (when timed). */
  readyMs: number[] | undefined;
  allReadyMs: number | undefined;
  /** The first warning → the last of the moves' pods created (the control plane's pace), when timed. */
  lastPodCreatedMs: number | undefined;
  /** The window the watcher's figures cover: the first warning → the queue empty (or all Ready, when timed). */
  windowMs: number;
  /** The watcher's requests in the window (its FlowSchema), and every client's (the cluster is shared). */
  requests: RequestCounts;
  use: ProcessUse;
  /** VmRSS a few seconds after the window (the median of 5 readings 1 s apart), and the heap then. */
  settledRssMiB: number;
  heapAfter: HeapReading;
  /** The watcher's own counters over the window. */
  flipsCounted: number;
  eventsHandled: number;
  verdict: LedgerVerdict;
}

export interface StormTimeouts {
  flipsMs: number;
  readyMs: number;
}

export async function watcherStorm(
  ctx: WatcherStormContext,
  waves: Wave[],
  timeouts: StormTimeouts,
  ready?: FargateReadyClock,
): Promise<WatcherStormResult> {
  const { kc, namespace, fleet, queue, watcher } = ctx;
  const nodeOf = new Map([...fleet.targets].map(([name, node]) => [name, node.name]));
  const others = [...fleet.elsewhere, ...fleet.bystanders];
  const ledger = await startFlipLedger(kc, namespace, fleet.labelSelector, nodeOf, others);
  try {
    const countersBefore = await counters(watcher.healthPort);
    const requestsBefore = await apiserverRequests(kc, ctx.flowSchema);
    const sampler = await sampleProcess(watcher.pid, () => heapOf(watcher.healthPort));
    const { startedAt, sentAt } = await runWaves(waves, (wave) =>
      sendWarnings(queue.client, queue.url, wave),
    );
    const lastFlip = await ledger.allFlipped(timeouts.flipsMs);
    await waitForEmptyQueue(queue.client, queue.url);
    const queueEmpty = performance.now();
    if (ready) await ready.allReady(timeouts.readyMs - (performance.now() - startedAt));
    const end = performance.now();
    const use = await sampler.stop();
    const requests = requestsBetween(requestsBefore, await apiserverRequests(kc, ctx.flowSchema));
    const countersAfter = await counters(watcher.healthPort);
    // what of the peak the watcher keeps once the storm is over
    const settled = await settledResident(watcher.pid);
    const since = (name: string, at: number | undefined) => (at ?? NaN) - sentAt.get(nodeOf.get(name)!)!;
    const targets = [...nodeOf.keys()];
    return {
      flipMs: targets.map((name) => since(name, ledger.flippedAt.get(name))),
      lastFlipMs: lastFlip - startedAt,
      queueEmptyMs: queueEmpty - startedAt,
      readyMs: ready && targets.map((name) => since(name, ready.readyAt.get(name))),
      allReadyMs: ready && Math.max(...ready.readyAt.values()) - startedAt,
      lastPodCreatedMs: ready && Math.max(...ready.fargatePods().map((p) => p.seenAt)) - startedAt,
      windowMs: end - startedAt,
      requests,
      use,
      settledRssMiB: settled.rssMiB,
      heapAfter: await heapOf(watcher.healthPort),
      flipsCounted: countersAfter.flipped - countersBefore.flipped,
      eventsHandled: countersAfter.handled - countersBefore.handled,
      verdict: ledger.verdict(),
    };
  } finally {
    ledger.stop();
  }
}

async function counters(healthPort: number): Promise<{ flipped: number; handled: number }> {
  const text = await metricsText(healthPort);
  return {
    flipped: metricValue(text, "spot_orchestrator_deployments_flipped_total", { compute: "fargate" }),
    handled: metricValue(text, "spot_orchestrator_events_received_total", { result: "handled" }),
  };
}

async function heapOf(healthPort: number): Promise<HeapReading> {
  const text = await metricsText(healthPort);
  return {
    heapUsedMiB: metricValue(text, "nodejs_heap_size_used_bytes") / 2 ** 20,
    externalMiB: metricValue(text, "nodejs_external_memory_bytes") / 2 ** 20,
  };
}
