// The storm's runs in order, on one fleet: the floor; the flip run (paused Deployments: the flips alone, with
// a watcher of its own); then, unless skipped, the ready run (the same storm again, the moves rolling onto an
// emulated Fargate with EKS's start-up and launch rate, a watcher and a queue of its own) until every replica
// is Ready. Between runs the targets go back to spot as they were.
import { AppsV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { loadConfig } from "../../core/config.ts";
import { mapLimit } from "../../core/mapLimit.ts";
import { ignoreNotFound } from "../../harness/cluster/api-errors.ts";
import type { StartupTime } from "../../harness/fargate/startup.ts";
import type { LaunchRate } from "../../harness/fargate/profiles.ts";
import type { Stack } from "../../harness/stack/stack.ts";
import { startBenchFargate } from "../interruption/benchFargate.ts";
import { startFargateReadyClock, type FargatePod } from "../interruption/fargateReadyClock.ts";
import { pollUntil } from "../interruption/pollUntil.ts";
import { startTimedWatcher } from "../interruption/watcherStart.ts";
import { summarize } from "../stats.ts";
import { backToSpot } from "./backToSpot.ts";
import { floorStorm, type FloorResult } from "./floorStorm.ts";
import type { StormReport } from "./report.ts";
import { describeMode, schedule, type StormMode, type Wave } from "./schedule.ts";
import { watcherStorm, type StormTimeouts, type WatcherStormResult } from "./watcherStorm.ts";
import {
  createStormFleet,
  deleteStormFleet,
  setPaused,
  type StormFleet,
  type StormSizes,
} from "./zoneFleet.ts";

export interface StormSettings {
  namespace: string;
  sizes: StormSizes;
  mode: StormMode;
  /** The ready run's Fargate; undefined: no ready run. */
  ready: { startup: StartupTime; launchRate: LaunchRate } | undefined;
  watcherEnv: Record<string, string>;
  /** The FlowSchema counting the watcher's requests. */
  flowSchema: string;
  logDir: string;
  log: (line: string) => void;
  /** Registers a step the benchmark's cleanup runs if a run is cut short. */
  onCleanup: (step: () => Promise<unknown>) => void;
}

export async function stormPhases(
  kc: KubeConfig,
  stack: Stack,
  settings: StormSettings,
): Promise<StormReport> {
  const { namespace, log, mode } = settings;
  const fleet = await createStormFleet(kc, namespace, settings.sizes, log);
  settings.onCleanup(() => deleteStormFleet(kc, namespace, fleet.labelSelector));
  const waves = schedule(fleet.reclaimed, mode);
  const timeouts = timeoutsFor(settings, fleet.targets.size);
  const targets = [...fleet.targets.keys()];

  const floor = await floorStorm(kc, namespace, fleet, waves, timeouts.flipsMs);
  log(`floor (${describeMode(mode)}): ${describe(floor.flipMs)}, last ${floor.lastFlipMs.toFixed(0)} ms`);
  await backToSpot(kc, namespace, targets);

  const flips = await flipRun(kc, stack, settings, fleet, waves, timeouts);
  log(
    `flip run: ${describe(flips.flipMs)}, last ${flips.lastFlipMs.toFixed(0)} ms, queue empty ${flips.queueEmptyMs.toFixed(0)} ms`,
  );
  if (!settings.ready) return { mode, floor, flips, ready: undefined };

  await backToSpot(kc, namespace, targets);
  await resume(kc, namespace, targets);
  const ready = await readyRun(kc, stack, settings, fleet, waves, timeouts, floor);
  log(
    `ready run: all Ready ${((ready.allReadyMs ?? NaN) / 1000).toFixed(1)} s (floor ${(ready.floorAllReadyMs / 1000).toFixed(1)} s)`,
  );
  return { mode, floor, flips, ready };
}

const describe = (values: number[]) => {
  const s = summarize(values);
  return `p50 ${s.p50.toFixed(0)} / p99 ${s.p99.toFixed(0)} / max ${s.max.toFixed(0)} ms`;
};

function timeoutsFor(settings: StormSettings, targets: number): StormTimeouts {
  const spread = settings.mode.kind === "spread" ? settings.mode.overMs : 0;
  const ready = settings.ready;
  const fargateMs = ready
    ? ready.startup.meanMs + ready.startup.jitterMs + (targets / ready.launchRate.perSecond) * 1000
    : 0;
  return { flipsMs: spread + 60_000 + targets * 100, readyMs: spread + fargateMs + 240_000 + targets * 200 };
}

/** The storm through a watcher of its own, started for it (so its memory is this run's), on the stack's queue. */
async function flipRun(
  kc: KubeConfig,
  stack: Stack,
  settings: StormSettings,
  fleet: StormFleet,
  waves: Wave[],
  timeouts: StormTimeouts,
): Promise<WatcherStormResult> {
  const watcher = await startTimedWatcher(stack, "flip-watcher", settings.watcherEnv, settings.logDir);
  settings.onCleanup(() => watcher.process.stop());
  settings.log(`flip run: the watcher led with a warm index after ${watcher.startMs.toFixed(0)} ms`);
  try {
    const queue = { client: stack.sqsClient, url: stack.queueUrl };
    const ctx = { kc, namespace: settings.namespace, fleet, queue, watcher, flowSchema: settings.flowSchema };
    return await watcherStorm(ctx, waves, timeouts);
  } finally {
    await watcher.process.stop();
  }
}

/** Unpaused, and seen so by the Deployment controller, still with their one replica on spot. */
async function resume(kc: KubeConfig, namespace: string, names: string[]): Promise<void> {
  await setPaused(kc, namespace, names, false);
  const apps = kc.makeApiClient(AppsV1Api);
  const wanted = new Set(names);
  await pollUntil(
    `the Deployment controller to see ${names.length} Deployments unpaused`,
    async () => {
      const list = await apps.listNamespacedDeployment({ namespace });
      return list.items
        .filter((d) => wanted.has(d.metadata?.name ?? ""))
        .every(
          (d) =>
            (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
            d.status?.updatedReplicas === 1 &&
            d.status.availableReplicas === 1,
        );
    },
    { timeoutMs: 120_000 + names.length * 200, intervalMs: 1_000 },
  );
}

/**
 * The storm again with the moves rolling: a Fargate of the benchmark's own (a profile with EKS's start-up and
 * launch rate), a watcher and a queue of their own (the stopped watcher's last long poll may still be parked
 * on the old queue), timed until every replica is Ready on Fargate. Its floor, per Deployment: its flip in
 * the floor's run plus the longest the emulator held one of its pods (launch gate + the start-up drawn).
 */
async function readyRun(
  kc: KubeConfig,
  stack: Stack,
  settings: StormSettings,
  fleet: StormFleet,
  waves: Wave[],
  timeouts: StormTimeouts,
  floor: FloorResult,
): Promise<NonNullable<StormReport["ready"]>> {
  const { namespace, log } = settings;
  const { startup, launchRate } = settings.ready!;
  const queueUrl = await stack.sqs.createQueue(`ready-${namespace}`, { VisibilityTimeout: "30" });
  const env = { ...settings.watcherEnv, SQS_QUEUE_URL: queueUrl };
  const { computeLabelKey, fargateLabel } = loadConfig({
    env: { ...stack.watcherEnvironment, ...env },
  }).compute;
  const fargate = await startBenchFargate(
    kc,
    namespace,
    { [computeLabelKey]: fargateLabel },
    startup,
    launchRate,
  );
  settings.onCleanup(() => fargate.stop());
  const replicasOf = new Map([...fleet.targets.keys()].map((name) => [name, 1]));
  let pods: FargatePod[] = [];
  try {
    const watcher = await startTimedWatcher(stack, "ready-watcher", env, settings.logDir);
    settings.onCleanup(() => watcher.process.stop());
    log(
      `ready run: Fargate profile ${fargate.profile}; the watcher led after ${watcher.startMs.toFixed(0)} ms`,
    );
    const clock = await startFargateReadyClock(kc, namespace, fleet.labelSelector, replicasOf);
    try {
      const ctx = {
        kc,
        namespace,
        fleet,
        queue: { client: stack.sqsClient, url: queueUrl },
        watcher,
        flowSchema: settings.flowSchema,
      };
      const result = await watcherStorm(ctx, waves, timeouts, clock);
      return { ...result, ...readyFloor(fleet, waves, floor, clock.fargatePods()) };
    } finally {
      pods = clock.fargatePods();
      clock.stop();
      await watcher.process.stop();
    }
  } finally {
    // the fleet's pods first, so no pod is left on a deleted node
    await deleteStormFleet(kc, namespace, fleet.labelSelector);
    await deleteFargateNodes(kc, pods);
    await fargate.stop();
  }
}

function readyFloor(
  fleet: StormFleet,
  waves: Wave[],
  floor: FloorResult,
  pods: FargatePod[],
): { readyFloorMs: number[]; floorAllReadyMs: number } {
  const offsetOf = new Map(waves.flatMap((w) => w.nodes.map((n) => [n.name, w.atMs] as const)));
  const held = (app: string) =>
    Math.max(0, ...pods.filter((p) => p.app === app).map((p) => p.gateWaitMs + p.startupMs));
  const names = [...fleet.targets.keys()];
  const readyFloorMs = names.map((name, i) => floor.flipMs[i]! + held(name));
  const floorAllReadyMs = Math.max(
    ...names.map((name, i) => offsetOf.get(fleet.targets.get(name)!.name)! + readyFloorMs[i]!),
  );
  return { readyFloorMs, floorAllReadyMs };
}

/** The Fargate nodes made for the run's pods, at once (the emulator would sweep them a little later). */
async function deleteFargateNodes(kc: KubeConfig, pods: FargatePod[]): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const nodes = [...new Set(pods.flatMap((p) => (p.nodeName ? [p.nodeName] : [])))];
  await mapLimit(nodes, 10, (name) => ignoreNotFound(() => core.deleteNode({ name })));
}
