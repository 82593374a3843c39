// One timed move to Fargate for N Deployments on one fresh spot node: one interruption event through SQS and
// the watcher, timed from the send until every replica of every Deployment is Ready on Fargate, and until
// the watcher's verdict (rollout=healthy) on each. Its floor, measured in the same run: one merge patch (the
// flip's one write, sent by a bare client to one of the Deployments before the event) plus the longest the
// Fargate emulator held one of the run's new pods (its wait behind the launch gate plus the start-up it drew).
import { randomBytes } from "node:crypto";
import { CoreV1Api } from "@kubernetes/client-node";
import { mapLimit } from "../../core/mapLimit.ts";
import { ignoreNotFound } from "../../harness/cluster/api-errors.ts";
import { concurrentFloorFlip } from "./concurrentFloor.ts";
import { rolloutHealthy, startDeploymentClock } from "./deploymentClock.ts";
import { createFleet, deleteFleet, resumeFleet, type Fleet } from "./fleet.ts";
import { startFargateReadyClock, type FargatePod, type FargateReadyClock } from "./fargateReadyClock.ts";
import { resetToSpot } from "./floor.ts";
import { watcherFlip, type RunContext } from "./interruptionRun.ts";

export interface ReadyRunResult {
  n: number;
  replicas: number;
  /** Send → the last Deployment seen with compute=fargate. */
  flipMs: number;
  /** Per Deployment (by name): send → all its replicas Ready on Fargate. */
  readyMs: number[];
  /** Per Deployment: send → rollout=healthy. */
  verdictMs: number[];
  /** One merge patch of the flip's annotations, from a bare client over a kept-alive connection. */
  patchMs: number;
  /** Per Deployment: the longest the emulator held one of its new pods (launch-gate wait + drawn start-up). */
  emulatorMs: number[];
  /** Of the run's Fargate pods: the largest start-up drawn, and the longest launch-gate wait. */
  largestStartupMs: number;
  longestGateWaitMs: number;
  /** Send → the last launch gate lifted; undefined when no pod waited for a launch. */
  lastReleaseMs: number | undefined;
  fargatePods: number;
  gatedPods: number;
}

export interface ReadyRunOptions {
  replicas: number;
  /** Longest wait from the send for every replica to be Ready on Fargate. */
  readyTimeoutMs: number;
  /** Longest wait after that for every verdict. */
  verdictTimeoutMs: number;
}

export async function readyRun(
  ctx: RunContext,
  n: number,
  label: string,
  options: ReadyRunOptions,
): Promise<ReadyRunResult> {
  const run = `${label}-${randomBytes(2).toString("hex")}`;
  const fleet = await createFleet(ctx.kc, ctx.namespace, run, n, options.replicas);
  let ready: FargateReadyClock | undefined;
  try {
    const patchMs = await onePatchFloor(ctx, fleet);
    await resumeFleet(ctx.kc, ctx.namespace, fleet);
    const replicasOf = new Map(fleet.deployments.map((name) => [name, options.replicas]));
    ready = await startFargateReadyClock(ctx.kc, ctx.namespace, fleet.labelSelector, replicasOf);
    const times = await timedMove(ctx, fleet, ready, options);
    return { n, replicas: options.replicas, patchMs, ...times };
  } finally {
    const pods = ready?.fargatePods() ?? [];
    ready?.stop();
    await deleteFleet(ctx.kc, ctx.namespace, fleet);
    await deleteFargateNodes(ctx, pods);
  }
}

/** The flip's one write to one Deployment, while the fleet is paused (so it rolls nothing), then undone. */
async function onePatchFloor(ctx: RunContext, fleet: Fleet): Promise<number> {
  const one: Fleet = { ...fleet, deployments: fleet.deployments.slice(0, 1) };
  const patchMs = await concurrentFloorFlip(ctx.kc, ctx.namespace, one);
  await resetToSpot(ctx.kc, ctx.namespace, one);
  return patchMs;
}

type MoveTimes = Omit<ReadyRunResult, "n" | "replicas" | "patchMs">;

/** Sends the event and waits for every replica Ready on Fargate, then for every verdict. */
async function timedMove(
  ctx: RunContext,
  fleet: Fleet,
  ready: FargateReadyClock,
  options: ReadyRunOptions,
): Promise<MoveTimes> {
  const { kc, namespace } = ctx;
  const verdicts = await startDeploymentClock(
    kc,
    namespace,
    fleet.labelSelector,
    fleet.deployments,
    rolloutHealthy,
  );
  try {
    let sentAt = 0;
    const flip = await watcherFlip(ctx, fleet, (at) => (sentAt = at));
    await ready.allReady(options.readyTimeoutMs - (performance.now() - sentAt));
    await verdicts.allReached(options.verdictTimeoutMs);
    return moveTimes(fleet, sentAt, flip.watcherMs, ready.readyAt, verdicts.reachedAt, ready.fargatePods());
  } finally {
    verdicts.stop();
  }
}

function moveTimes(
  fleet: Fleet,
  sentAt: number,
  flipMs: number,
  readyAt: ReadonlyMap<string, number>,
  verdictAt: ReadonlyMap<string, number>,
  pods: FargatePod[],
): MoveTimes {
  const since = (at: number | undefined) => (at ?? NaN) - sentAt;
  const held = (p: FargatePod) => p.gateWaitMs + p.startupMs;
  const gated = pods.filter((p) => p.releasedAt !== undefined);
  return {
    flipMs,
    readyMs: fleet.deployments.map((name) => since(readyAt.get(name))),
    verdictMs: fleet.deployments.map((name) => since(verdictAt.get(name))),
    emulatorMs: fleet.deployments.map((name) => Math.max(0, ...pods.filter((p) => p.app === name).map(held))),
    largestStartupMs: Math.max(0, ...pods.map((p) => p.startupMs)),
    longestGateWaitMs: Math.max(0, ...pods.map((p) => p.gateWaitMs)),
    lastReleaseMs: gated.length > 0 ? Math.max(...gated.map((p) => since(p.releasedAt))) : undefined,
    fargatePods: pods.length,
    gatedPods: gated.length,
  };
}

/** The Fargate nodes made for the run's pods, at once (the emulator would sweep them a little later). */
async function deleteFargateNodes(ctx: RunContext, pods: FargatePod[]): Promise<void> {
  const core = ctx.kc.makeApiClient(CoreV1Api);
  const nodes = [...new Set(pods.flatMap((p) => (p.nodeName ? [p.nodeName] : [])))];
  await mapLimit(nodes, 10, (name) => ignoreNotFound(() => core.deleteNode({ name })));
}
