// One measured run for N Deployments on one fresh node: first the floors (the N patches sent one after another
// and all at once from here), then, back on spot, one interruption event through SQS and the watcher, timed
// from the send until a watch sees the last Deployment with compute=fargate.
import { randomBytes } from "node:crypto";
import { AppsV1Api, type KubeConfig } from "@kubernetes/client-node";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { defaultZone, regionOf } from "../../harness/cluster/nodes.ts";
import { waitForEmptyQueue } from "../../harness/sqs/emptyQueue.ts";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { createFleet, deleteFleet, type Fleet } from "./fleet.ts";
import { assertOn, floorFlip, resetToSpot } from "./floor.ts";
import { concurrentFloorFlip } from "./concurrentFloor.ts";
import { flippedToFargate, startDeploymentClock } from "./deploymentClock.ts";
import { flipLogTimes, watcherCounters } from "./watcherProbe.ts";

export interface RunContext {
  kc: KubeConfig;
  namespace: string;
  /** The queue the watcher consumes. */
  queue: { client: SQSClient; url: string };
  watcher: { healthPort: number; logFile: string };
}

export interface RunResult {
  n: number;
  /** Event sent → last Deployment seen with compute=fargate, from outside. */
  watcherMs: number;
  /** The watcher's own event_to_flip observation (message received → last flip stored). */
  watcherHistogramMs: number;
  /** From the send to the watcher's first and last "compute flipped" log lines (ms resolution). */
  firstFlipLogMs: number | undefined;
  lastFlipLogMs: number | undefined;
  /** N merge patches sent one after another from this process (client-node). */
  sequentialFloorMs: number;
  /** The same N sent all at once by a bare client over kept-alive connections: the floor. */
  floorMs: number;
}

/** The watcher's part of a run. */
export type WatcherFlip = Omit<RunResult, "n" | "floorMs" | "sequentialFloorMs">;

export async function interruptionRun(ctx: RunContext, n: number, label: string): Promise<RunResult> {
  const run = `${label}-${randomBytes(2).toString("hex")}`;
  const fleet = await createFleet(ctx.kc, ctx.namespace, run, n);
  try {
    const sequentialFloorMs = await floorFlip(ctx.kc, ctx.namespace, fleet);
    await resetToSpot(ctx.kc, ctx.namespace, fleet);
    const floorMs = await concurrentFloorFlip(ctx.kc, ctx.namespace, fleet);
    await resetToSpot(ctx.kc, ctx.namespace, fleet);
    return { n, floorMs, sequentialFloorMs, ...(await watcherFlip(ctx, fleet)) };
  } finally {
    await deleteFleet(ctx.kc, ctx.namespace, fleet);
  }
}

/**
 * Sends the interruption for the fleet's node and times the watcher's flip of every Deployment on it.
 * `onSent` learns the moment of the send (performance.now()), for clocks that run past the flip.
 */
export async function watcherFlip(
  ctx: RunContext,
  fleet: Fleet,
  onSent?: (sentAt: number) => void,
): Promise<WatcherFlip> {
  const { kc, namespace, queue, watcher } = ctx;
  const n = fleet.deployments.length;
  const clock = await startDeploymentClock(
    kc,
    namespace,
    fleet.labelSelector,
    fleet.deployments,
    flippedToFargate,
  );
  let lastSeen: number;
  let sentAt: number;
  let sentEpoch: number;
  const before = await watcherCounters(watcher.healthPort);
  try {
    const event = buildEventBridgeEvent({
      kind: "spot-interruption",
      instanceId: fleet.instanceId,
      region: regionOf(defaultZone),
    });
    sentEpoch = Date.now();
    sentAt = performance.now();
    await queue.client.send(
      new SendMessageCommand({ QueueUrl: queue.url, MessageBody: JSON.stringify(event) }),
    );
    onSent?.(sentAt);
    lastSeen = await clock.allReached(60_000);
  } finally {
    clock.stop();
  }
  // the message is deleted once every flip is stored: the watcher is done with the event
  await waitForEmptyQueue(queue.client, queue.url);
  const after = await watcherCounters(watcher.healthPort);
  const flipped = after.flipped - before.flipped;
  const observations = after.eventToFlipCount - before.eventToFlipCount;
  if (flipped !== n || observations !== 1) {
    throw new Error(`the watcher counted ${flipped} flips (expected ${n}) in ${observations} event(s)`);
  }
  const apps = kc.makeApiClient(AppsV1Api);
  assertOn(await apps.readNamespacedDeployment({ namespace, name: fleet.deployments.at(-1)! }), "fargate");
  const log = await flipLogTimes(watcher.logFile, fleet.deployments);
  return {
    watcherMs: lastSeen - sentAt,
    watcherHistogramMs: (after.eventToFlipSum - before.eventToFlipSum) * 1000,
    firstFlipLogMs: log && log.first - sentEpoch,
    lastFlipLogMs: log && log.last - sentEpoch,
  };
}
