// The drill and what follows, one narrated step per thing that really happens: each step waits (bounded) for
// the cluster or the watcher's log to show it, and is stamped with the time it happened.
import { isDeepStrictEqual } from "node:util";
import type { KubeConfig, V1Deployment, V1Node } from "@kubernetes/client-node";
import { Annotation } from "../core/contract.ts";
import { instanceIdOf, terminateNode } from "../harness/cluster/nodes.ts";
import { runDrill } from "./drill.ts";
import { seconds, type Narrator } from "./narrator.ts";
import { appName, placementOf, replicas, type Placement } from "./sampleApp.ts";
import { readyOn, type ClusterSampler, type Snapshot } from "./sampler.ts";
import { addSpotNode, describeNode, nodeName, podsPerNode } from "./setup.ts";
import type { LogFollower, LogEntry } from "./watcherLog.ts";

/** Epoch milliseconds of each step. */
export interface Milestones {
  drillSent: number;
  eventReceived: number;
  flipped: number;
  scheduledOnFargate: number;
  readyOnFargate: number;
  endpointsOnFargate: number;
  healthyOnFargate: number;
  nodeTerminated: number;
  cooldownUntil: number;
  spotAvailable: number;
  flippedBack: number;
  recovered: number;
}

export interface InterruptionOutcome {
  milestones: Milestones;
  /** Fewest ready endpoints seen from the drill until the app was healthy on Fargate, and in how many samples. */
  moveMinEndpoints: { min: number; samples: number };
  recoveryMinEndpoints: { min: number; samples: number };
  placementRestored: boolean;
  originalPlacement: Placement;
  finalPlacement: Placement;
  /** Pods per spot node at the end. */
  finalNodes: Record<string, number>;
}

export interface InterruptionContext {
  kc: KubeConfig;
  kubeconfigPath: string;
  namespace: string;
  pool: string;
  /** The spot node to interrupt. */
  target: V1Node;
  narrator: Narrator;
  sampler: ClusterSampler;
  watcherLog: LogFollower;
  drillEnv: Record<string, string>;
  cooldownMs: number;
  recoveryIntervalMs: number;
  /** How long to wait for the Fargate pods: their slowest start-up and a margin. */
  fargateWaitMs: number;
  originalPlacement: Placement;
  /** Zone of the node the node group adds after the interrupted one is gone. */
  replacementZone: string;
  /** Called with each node the demo creates, so it is cleaned up. */
  recordNode: (name: string) => void;
}

const annotationsOf = (d: V1Deployment) => d.metadata?.annotations ?? {};
const ofApp = (namespace: string) => (e: LogEntry) =>
  e.fields["namespace"] === namespace && e.fields["name"] === appName;

/** The drill, the move to Fargate, the node's end, the recovery to spot: each step narrated as it happens. */
export async function runInterruption(ctx: InterruptionContext): Promise<InterruptionOutcome> {
  const { drillSent, eventReceived } = await sendDrill(ctx);
  const flip = await awaitFlipToFargate(ctx, drillSent);
  const { flipped } = flip;
  const pods = await awaitPodsOnFargate(ctx, flipped);
  const endpoints = await awaitEndpointsOnFargate(ctx, drillSent, flipped);
  const verdict = await awaitVerdictOnFargate(ctx, flipped);
  const nodeTerminated = await reclaimNode(ctx);
  const cooldownUntil = announceCooldown(ctx, verdict.deployment, flipped);
  await replaceNode(ctx);
  const spotAvailable = await awaitRecoveryStart(ctx);
  const flippedBack = await awaitFlipBack(ctx, nodeTerminated);
  const recovered = await awaitRecoveredOnSpot(ctx, flippedBack);
  const placement = checkPlacement(ctx, recovered.deployment, recovered.at);
  return {
    milestones: {
      drillSent,
      eventReceived,
      flipped,
      scheduledOnFargate: pods.scheduledAt,
      readyOnFargate: pods.readyAt,
      endpointsOnFargate: endpoints.at,
      healthyOnFargate: verdict.at,
      nodeTerminated,
      cooldownUntil,
      spotAvailable,
      flippedBack,
      recovered: recovered.at,
    },
    moveMinEndpoints: endpoints.moveMinEndpoints,
    recoveryMinEndpoints: recovered.recoveryMinEndpoints,
    placementRestored: placement.restored,
    originalPlacement: ctx.originalPlacement,
    finalPlacement: placement.final,
    finalNodes: recovered.finalNodes,
  };
}

/** Sends the drill through the queue with the CLI; resolves once the watcher has received the event. */
async function sendDrill(ctx: InterruptionContext): Promise<{ drillSent: number; eventReceived: number }> {
  const { narrator, watcherLog } = ctx;
  const target = nodeName(ctx.target);
  const instanceId = instanceIdOf(ctx.target);
  const drillSent = Date.now();
  narrator.step(`drill: spot-orchestrator drill --node ${target}`);
  const output = await runDrill({ node: target, kubeconfigPath: ctx.kubeconfigPath, env: ctx.drillEnv });
  for (const line of output) narrator.detail(line);

  const received = await watcherLog.find(
    `"handling EC2 event" for ${instanceId}`,
    (e) => e.msg === "handling EC2 event" && e.fields["instanceId"] === instanceId,
    30_000,
  );
  narrator.step(`event received by the watcher: spot interruption warning for ${instanceId}`, received.at);
  return { drillSent, eventReceived: received.at };
}

/** The watcher flips `compute` to fargate and the webhook rewrites the template; returns when it flipped. */
async function awaitFlipToFargate(ctx: InterruptionContext, drillSent: number): Promise<{ flipped: number }> {
  const { narrator, sampler, watcherLog, namespace } = ctx;
  const flip = await sampler.until(
    `${appName}'s compute annotation to become fargate`,
    (s) => annotationsOf(s.deployment)[Annotation.compute] === "fargate" && s.deployment,
    30_000,
    drillSent,
  );
  const flipLog = watcherLog.entries.find(
    (e) => e.msg === "compute flipped to fargate" && ofApp(namespace)(e),
  );
  const flipped = Math.min(flipLog?.at ?? flip.snapshot.at, flip.snapshot.at);
  const flippedAnnotations = annotationsOf(flip.value);
  narrator.step(
    `Deployment ${appName} flipped: compute=fargate, reason=${flippedAnnotations[Annotation.reason]}, ` +
      `interrupted-node=${flippedAnnotations[Annotation.interruptedNode]}`,
    flipped,
  );
  const templateLabel = flip.value.spec?.template.metadata?.labels?.["compute-type"];
  narrator.detail(
    `webhook rewrote the pod template: compute-type=${templateLabel}, placement stashed in ` +
      `${Annotation.spotPlacement} (${flippedAnnotations[Annotation.spotPlacement] ? "yes" : "no"})`,
  );
  return { flipped };
}

/** The new pods get Fargate nodes, then are all Ready there with none left on spot. */
async function awaitPodsOnFargate(
  ctx: InterruptionContext,
  flipped: number,
): Promise<{ scheduledAt: number; readyAt: number }> {
  const { narrator, sampler } = ctx;
  const onFargate = (s: Snapshot) =>
    s.pods.filter((p) => p.compute === "fargate" && p.computeLabel === "fargate");
  const scheduled = await sampler.until(
    `${replicas} new pods scheduled on Fargate nodes`,
    (s) => onFargate(s).length >= replicas && onFargate(s),
    ctx.fargateWaitMs,
    flipped,
  );
  narrator.step(`${replicas} new pods scheduled on Fargate, one node each`, scheduled.snapshot.at);
  for (const pod of scheduled.value) narrator.detail(`${pod.name} → ${pod.node}`);

  const ready = await sampler.until(
    `${replicas}/${replicas} pods Ready on Fargate and none left on spot`,
    (s) => readyOn(s, "fargate").length === replicas && s.pods.length === replicas,
    ctx.fargateWaitMs,
    flipped,
  );
  narrator.success(
    `rollout complete: ${replicas}/${replicas} Ready on Fargate, none left on spot`,
    ready.snapshot.at,
  );
  return { scheduledAt: scheduled.snapshot.at, readyAt: ready.snapshot.at };
}

/** The Service's ready endpoints are the Fargate pods; with the fewest ready since the drill. */
async function awaitEndpointsOnFargate(
  ctx: InterruptionContext,
  drillSent: number,
  flipped: number,
): Promise<{ at: number; moveMinEndpoints: { min: number; samples: number } }> {
  const { narrator, sampler } = ctx;
  const fargatePods = (s: Snapshot) => new Set(readyOn(s, "fargate").map((p) => p.name));
  const endpoints = await sampler.until(
    `the Service's ${replicas} ready endpoints to be the Fargate pods`,
    (s) => s.readyEndpoints.length === replicas && s.readyEndpoints.every((name) => fargatePods(s).has(name)),
    ctx.fargateWaitMs,
    flipped,
  );
  const moveMinEndpoints = minEndpoints(sampler, drillSent, endpoints.snapshot.at);
  narrator.success(
    `endpoints healthy: ${replicas} ready endpoints, all on Fargate ` +
      `(fewest ready during the move: ${moveMinEndpoints.min} of ${replicas}, ${moveMinEndpoints.samples} samples)`,
    endpoints.snapshot.at,
  );
  return { at: endpoints.snapshot.at, moveMinEndpoints };
}

/** The watcher's verdict on the move: `rollout=healthy` (a failed one ends the demo). */
async function awaitVerdictOnFargate(
  ctx: InterruptionContext,
  flipped: number,
): Promise<{ at: number; deployment: V1Deployment }> {
  const verdict = await ctx.sampler.until(
    `the watcher's verdict on the move (${Annotation.rollout})`,
    (s) => {
      const rollout = annotationsOf(s.deployment)[Annotation.rollout];
      if (rollout?.startsWith("failed")) throw new Error(`the watcher says the move failed: ${rollout}`);
      return rollout === "healthy" && rollout;
    },
    ctx.fargateWaitMs + 30_000,
    flipped,
  );
  ctx.narrator.success(`watcher verified the move: ${Annotation.rollout}=healthy`, verdict.snapshot.at);
  return { at: verdict.snapshot.at, deployment: verdict.snapshot.deployment };
}

/** The instance is reclaimed: its node goes, with whatever pods were still on it. Returns when. */
async function reclaimNode(ctx: InterruptionContext): Promise<number> {
  const target = nodeName(ctx.target);
  const gone = await terminateNode(ctx.kc, target);
  const nodeTerminated = Date.now();
  const lostPods = gone.filter((p) => p.startsWith(`${ctx.namespace}/`)).length;
  ctx.narrator.step(
    `node ${target} terminated: the instance is reclaimed (${lostPods} of the app's pods were still on it)`,
    nodeTerminated,
  );
  return nodeTerminated;
}

/** Tells how long the watcher leaves the app on Fargate after the move; returns when the cooldown ends. */
function announceCooldown(ctx: InterruptionContext, healthy: V1Deployment, flipped: number): number {
  const changedAt = Date.parse(annotationsOf(healthy)[Annotation.changedAt] ?? "");
  const cooldownUntil = (Number.isNaN(changedAt) ? flipped : changedAt) + ctx.cooldownMs;
  ctx.narrator.step(
    `cooldown: the watcher leaves ${appName} on Fargate for ${seconds(ctx.cooldownMs)} after the move ` +
      `(until ${seconds(ctx.narrator.elapsed(cooldownUntil))}); zone of ${nodeName(ctx.target)} storm-guarded as long`,
  );
  return cooldownUntil;
}

/** The node group replaces the reclaimed instance, in another zone. */
async function replaceNode(ctx: InterruptionContext): Promise<void> {
  const replacement = await addSpotNode(ctx.kc, ctx.pool, ctx.replacementZone);
  ctx.recordNode(nodeName(replacement));
  ctx.narrator.step(`the node group replaced the instance: ${describeNode(replacement)} joined`);
}

/** After the cooldown, the watcher finds room on spot and starts the recovery; returns when. */
async function awaitRecoveryStart(ctx: InterruptionContext): Promise<number> {
  const recovering = await ctx.watcherLog.find(
    `"recovering to spot" for ${appName}`,
    (e) => e.msg === "recovering to spot" && ofApp(ctx.namespace)(e),
    ctx.cooldownMs + ctx.recoveryIntervalMs + 60_000,
  );
  const roomOn = Array.isArray(recovering.fields["nodes"]) ? (recovering.fields["nodes"] as string[]) : [];
  ctx.narrator.step(
    `spot available: the watcher found room on ${roomOn.join(", ") || "spot"}`,
    recovering.at,
  );
  return recovering.at;
}

/** `compute` back to spot with `reason=recovery`; returns when it was seen. */
async function awaitFlipBack(ctx: InterruptionContext, nodeTerminated: number): Promise<number> {
  const back = await ctx.sampler.until(
    `${appName}'s compute annotation to become spot (reason=recovery)`,
    (s) => {
      const a = annotationsOf(s.deployment);
      return a[Annotation.compute] === "spot" && a[Annotation.reason] === "recovery" && s.deployment;
    },
    30_000,
    nodeTerminated,
  );
  ctx.narrator.step(`Deployment ${appName} flipped back: compute=spot, reason=recovery`, back.snapshot.at);
  return back.snapshot.at;
}

/** All replicas Ready on spot behind the Service, and the watcher's `rollout=healthy` on the recovery. */
async function awaitRecoveredOnSpot(
  ctx: InterruptionContext,
  flippedBack: number,
): Promise<{
  at: number;
  deployment: V1Deployment;
  recoveryMinEndpoints: { min: number; samples: number };
  finalNodes: Record<string, number>;
}> {
  const { narrator, sampler } = ctx;
  const recovered = await sampler.until(
    `${replicas}/${replicas} Ready on spot with ${replicas} ready endpoints and ${Annotation.rollout}=healthy`,
    (s) => {
      const rollout = annotationsOf(s.deployment)[Annotation.rollout];
      if (rollout?.startsWith("failed")) throw new Error(`the watcher says recovery failed: ${rollout}`);
      return (
        readyOn(s, "spot").length === replicas &&
        s.pods.length === replicas &&
        s.readyEndpoints.length === replicas &&
        rollout === "healthy" &&
        annotationsOf(s.deployment)[Annotation.compute] === "spot"
      );
    },
    90_000,
    flippedBack,
  );
  const recoveryMinEndpoints = minEndpoints(sampler, flippedBack, recovered.snapshot.at);
  const finalNodes: Record<string, number> = {};
  for (const [node, count] of podsPerNode(recovered.snapshot)) finalNodes[node] = count;
  narrator.success(
    `recovered to spot: ${replicas}/${replicas} Ready on ${Object.entries(finalNodes)
      .map(([node, count]) => `${node} (${count})`)
      .join(", ")}; ${Annotation.rollout}=healthy`,
    recovered.snapshot.at,
  );
  return {
    at: recovered.snapshot.at,
    deployment: recovered.snapshot.deployment,
    recoveryMinEndpoints,
    finalNodes,
  };
}

/** Is the template's placement the original one again, with nothing of the move left on it? */
function checkPlacement(
  ctx: InterruptionContext,
  final: V1Deployment,
  at: number,
): { restored: boolean; final: Placement } {
  const { narrator } = ctx;
  const finalPlacement = placementOf(final.spec?.template.spec);
  const restored =
    isDeepStrictEqual(finalPlacement, ctx.originalPlacement) &&
    annotationsOf(final)[Annotation.spotPlacement] === undefined &&
    final.spec?.template.metadata?.labels?.["compute-type"] === undefined;
  if (restored) {
    narrator.success(
      "original placement restored: nodeSelector, tolerations, nodeAffinity, topologySpreadConstraints as before",
      at,
    );
  } else {
    narrator.failure("the pod template's placement differs from the original");
    narrator.detail(`before: ${JSON.stringify(ctx.originalPlacement)}`);
    narrator.detail(`after:  ${JSON.stringify(finalPlacement)}`);
  }
  return { restored, final: finalPlacement };
}

function minEndpoints(sampler: ClusterSampler, from: number, to: number): { min: number; samples: number } {
  const inWindow = sampler.history.filter((s) => s.at >= from && s.at <= to);
  return {
    min: Math.min(...inWindow.map((s) => s.readyEndpoints.length)),
    samples: inWindow.length,
  };
}
