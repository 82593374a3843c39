// Follows a Deployment after its compute changed: first the rollout, then health on the target compute.
// Target-agnostic: migration follows moves to Fargate, recovery follows moves back to spot.
import { setTimeout as sleep } from "node:timers/promises";
import type { V1Deployment, V1Node } from "@kubernetes/client-node";
import type { Compute } from "../../core/contract.ts";
import { classify, statusOf, type Kube } from "../../core/kube.ts";
import type { Logger } from "../../core/log.ts";
import type { Config } from "../../core/config.ts";
import type { DeploymentLookup } from "../cluster/deploymentIndex.ts";
import type { NodeLookup } from "../cluster/nodeIndex.ts";
import type { DeploymentRef } from "./deployments.ts";
import type { FollowResult } from "./patches.ts";
import { describeWaiting, stuckPods, untilALimit, type StuckPod, type Waiting } from "./pendingPods.ts";
import { checkHealth, type HealthOptions } from "./workloadHealth.ts";

export type RolloutStatus = { done: true } | { done: false; failed: boolean; why: string };

interface FollowOptions extends HealthOptions {
  /** Pause between polls. */
  checkIntervalMs: number;
  /** Pause after the rollout completes before health is verified. */
  verificationDelayMs?: number;
  /**
   * A new pod waiting this long fails the move, with its reason: unscheduled (no node yet), or bound and
   * starting (its containers not Ready). Unset: the reason is told at the timeout.
   */
  waitLimitsMs?: Partial<Record<Waiting, number>>;
  log: Logger;
  signal?: AbortSignal;
  /** Checked on every read of the Deployment: a reason to stop following it (its compute changed again). */
  abortIf?: (deployment: V1Deployment) => string | undefined;
  /** The Deployment as the move wrote it: no older copy of it is taken for its state. */
  written?: V1Deployment;
}

/**
 * Where a follow-up reads the Deployment and the nodes its pods run on: the watcher's indexes (watches)
 * when they are current, the apiserver otherwise.
 */
export interface RolloutReads {
  /** The Deployment, no older than `seen` (the version the follow-up last saw, or wrote). */
  deployment(ref: DeploymentRef, seen: V1Deployment | undefined): Promise<V1Deployment>;
  node(name: string): Promise<V1Node>;
}

/**
 * Reads from the indexes when they hold what is asked: the Deployment once its watch has delivered the
 * version the follow-up last saw (its copy is then that one or newer), a node by name; the apiserver
 * otherwise.
 */
export function indexedReads(
  kube: Kube,
  indexes: { deployments: Pick<DeploymentLookup, "notOlderThan">; nodes: Pick<NodeLookup, "byName"> },
): RolloutReads {
  return {
    deployment: async (ref, seen) =>
      (seen && indexes.deployments.notOlderThan(seen)) ?? kube.apps.readNamespacedDeployment(ref),
    node: async (name) => indexes.nodes.byName(name) ?? kube.core.readNode({ name }),
  };
}

/** Follows a move of `ref` to `target` to a result, within `timeoutMs`. */
export type FollowRollout = (
  ref: DeploymentRef,
  target: Compute,
  timeoutMs: number,
  options: Pick<FollowOptions, "log" | "signal" | "abortIf" | "written">,
) => Promise<FollowResult>;

/** Where a Deployment's rollout stands, from its status alone (the logic of `kubectl rollout status`). */
export function rolloutStatus(deployment: V1Deployment): RolloutStatus {
  const generation = deployment.metadata?.generation ?? 0;
  const status = deployment.status ?? {};
  if ((status.observedGeneration ?? 0) < generation) {
    return { done: false, failed: false, why: `generation ${generation} not yet observed` };
  }
  const progressing = status.conditions?.find((c) => c.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") {
    return {
      done: false,
      failed: true,
      why: `progress deadline exceeded${progressing.message ? `: ${progressing.message}` : ""}`,
    };
  }
  const desired = deployment.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < desired)
    return { done: false, failed: false, why: `${updated} of ${desired} replicas updated` };
  if (total > updated) {
    return { done: false, failed: false, why: `${total - updated} old replicas pending termination` };
  }
  if (available < desired)
    return { done: false, failed: false, why: `${available} of ${desired} replicas available` };
  if (progressing?.reason !== "NewReplicaSetAvailable") {
    return { done: false, failed: false, why: `Progressing is ${progressing?.reason ?? "not reported"}` };
  }
  return { done: true };
}

/** `followRollout` over the cluster with the polling, health and Service settings the configuration asks for. */
export function rolloutFollower(kube: Kube, config: Config, reads: RolloutReads): FollowRollout {
  const { kubernetes, monitoring, migration } = config;
  return (ref, target, timeoutMs, options) =>
    followRollout(kube, reads, ref, target, timeoutMs, {
      checkIntervalMs: monitoring.checkInterval,
      verificationDelayMs: migration.verificationDelay,
      ...(target === "fargate"
        ? {
            waitLimitsMs: {
              unscheduled: config.fargate.pendingTimeout,
              starting: config.fargate.startupTimeout,
            },
          }
        : {}),
      // the configured Service is health-checked for the configured Deployment only
      ...(kubernetes.serviceName !== "" && ref.name === kubernetes.deploymentName
        ? { serviceName: kubernetes.serviceName }
        : {}),
      httpCheck: { retries: monitoring.healthCheckRetries, intervalMs: monitoring.healthCheckInterval },
      ...options,
    });
}

/**
 * Polls the Deployment until its rollout is complete and it is healthy on `target`, or it fails
 * (ProgressDeadlineExceeded, deleted, a new pod waiting past its limit), `abortIf` gives a reason, or
 * `timeoutMs` passes. A failure while new pods wait names the longest waiting one and what holds it.
 */
async function followRollout(
  kube: Kube,
  reads: RolloutReads,
  ref: DeploymentRef,
  target: Compute,
  timeoutMs: number,
  options: FollowOptions,
): Promise<FollowResult> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  const { log, signal } = options;
  let rolledOut = false;
  let lastWhy = "no status read yet";
  let seen = options.written;
  const looks = new PodLooks(started, deadline, options);
  for (;;) {
    if (signal?.aborted) return { ok: false, why: "stopped before the rollout finished" };
    try {
      const deployment = await reads.deployment(ref, seen);
      seen = deployment;
      const superseded = options.abortIf?.(deployment);
      if (superseded !== undefined) return { ok: false, why: superseded, superseded: true };
      const status = rolloutStatus(deployment);
      if (!status.done && status.failed) return { ok: false, why: status.why };
      if (!status.done) {
        const waiting = await whyNotDone(kube, deployment, status.why, looks);
        if (waiting.failed !== undefined) return waiting.failed;
        lastWhy = waiting.why;
      } else {
        if (!rolledOut) {
          rolledOut = true;
          log.debug("rollout complete; verifying health");
          await pause(Math.min(options.verificationDelayMs ?? 0, deadline - Date.now()), signal);
        }
        const health = await checkHealth(kube, deployment, target, reads.node, options);
        if (health.ok) return { ok: true, seconds: (Date.now() - started) / 1000 };
        lastWhy = health.why;
      }
    } catch (err) {
      if (statusOf(err) === 404) return { ok: false, why: "the Deployment was deleted" };
      const error = classify(err, `follow deployment ${ref.namespace}/${ref.name}`);
      log.warn({ err: error }, "reading rollout state failed; retrying");
      lastWhy = error.message;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      return {
        ok: false,
        why: `not done after ${Math.round(timeoutMs / 1000)}s (${lastWhy})`,
        timedOut: true,
      };
    }
    log.debug({ why: lastWhy }, "waiting for rollout");
    await pause(Math.min(options.checkIntervalMs, left), signal);
  }
}

/**
 * When a follow-up looks into its new pods (a list of its ReplicaSets, pods and their Events): once one may
 * have waited past its kind's limit (first at the shortest limit, then as `untilALimit` says after each
 * look), and always at the last poll, so a timeout names what holds the pods as of then. Without limits,
 * only at the last poll.
 */
class PodLooks {
  readonly limits: Partial<Record<Waiting, number>>;
  private at: number;
  private readonly deadline: number;
  private readonly intervalMs: number;

  constructor(
    started: number,
    deadline: number,
    options: Pick<FollowOptions, "waitLimitsMs" | "checkIntervalMs">,
  ) {
    this.limits = options.waitLimitsMs ?? {};
    const limits = Object.values(this.limits);
    this.deadline = deadline;
    this.intervalMs = options.checkIntervalMs;
    this.at = limits.length > 0 ? started + Math.min(...limits) : deadline - options.checkIntervalMs;
  }

  due(now: number): boolean {
    return now >= this.at || this.deadline - now <= this.intervalMs;
  }

  /** After a look begun at `now` found `stuck`: the next is due when a limit may be reached. */
  looked(now: number, stuck: Partial<Record<Waiting, StuckPod>>): void {
    const next = untilALimit(stuck, this.limits);
    if (next !== undefined) this.at = now + next;
  }
}

/**
 * Why a rollout is not done yet: its status, or (when `looks` says a look is due) what holds its
 * longest-waiting new pod; a failed result once a new pod has waited past its kind's limit.
 */
async function whyNotDone(
  kube: Kube,
  deployment: V1Deployment,
  statusWhy: string,
  looks: PodLooks,
): Promise<{ why: string; failed?: FollowResult }> {
  const now = Date.now();
  if (!looks.due(now)) return { why: `rollout: ${statusWhy}` };
  const stuck = await stuckPods(kube, deployment);
  looks.looked(now, stuck);
  const over = overLimit(stuck, looks.limits);
  if (over.failed !== undefined) {
    const { waiting, reason } = over.failed;
    const why = describeWaiting(waiting, reason);
    return { why, failed: { ok: false, why, pending: waiting.waiting === "unscheduled" } };
  }
  return {
    why: over.longest ? describeWaiting(over.longest.waiting, over.longest.reason) : `rollout: ${statusWhy}`,
  };
}

/** Of the pods waiting longest, the one past its kind's limit (unscheduled first), and the longest of all. */
function overLimit(
  stuck: Partial<Record<Waiting, StuckPod>>,
  limits: Partial<Record<Waiting, number>>,
): { failed?: StuckPod; longest?: StuckPod } {
  const waiting = (["unscheduled", "starting"] as const).flatMap((kind) => stuck[kind] ?? []);
  return {
    failed: waiting.find((s) => s.waiting.forMs >= (limits[s.waiting.waiting] ?? Infinity)),
    longest: [...waiting].sort((a, b) => b.waiting.forMs - a.waiting.forMs)[0],
  };
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return;
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
  } catch {
    // aborted: the loop notices
  }
}
