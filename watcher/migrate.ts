// Interruption event → flip the `compute` annotation of every affected opted-in Deployment to fargate (the
// webhook then moves the template), then, without holding up the event, follow each move to a verdict.
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation, EventReason, requestedCompute, type RolloutState } from "../core/contract.ts";
import type { Config } from "../core/config.ts";
import { PermanentError, RetryableError, toError } from "../core/errors.ts";
import { patchDeploymentMetadata, statusOf, type Kube } from "../core/kube.ts";
import { mapLimit } from "../core/mapLimit.ts";
import type { Logger } from "../core/log.ts";
import { fargateIncompatibilities } from "../core/placement.ts";
import type { EventRecorder } from "./alerts/events.ts";
import { listOptedInDeployments } from "./cluster/optedIn.ts";
import { affectedDeployments, ReplicaSetOwners, type Scope } from "./cluster/owners.ts";
import type { NodeLookup } from "./cluster/nodeIndex.ts";
import type { WatcherMetrics } from "./metrics.ts";
import { followOptionsFrom, followRollout, type FollowResult } from "./rollout.ts";
import type { AffectedDeployment, Alerter, Ec2Event, EventHandler } from "./types.ts";

export interface MigratorDeps {
  kube: Kube;
  nodes: NodeLookup;
  config: Config;
  log: Logger;
  metrics: WatcherMetrics;
  alerter: Alerter;
  events: EventRecorder;
}

export interface Migrator extends EventHandler {
  /** Resolves when every follow-up (and Event write) started so far has finished. */
  idle(): Promise<void>;
  /** Picks up moves left `rollout=progressing` by a previous leader and follows them to a verdict. */
  resume(): Promise<number>;
  /** Abandons running follow-ups without a verdict (leadership lost, shutting down). */
  stop(): void;
}

/** What to do with one affected Deployment. */
export type Plan =
  | { action: "flip" }
  | { action: "skip"; why: "already-fargate"; resume: boolean }
  | { action: "skip"; why: "fargate-incompatible"; reasons: string[] };

const MIGRATION_REASONS = new Set(["spot-interruption", "rebalance-recommendation", "instance-stopping"]);
const MAX_FLIP_ATTEMPTS = 3;
/** How long an event waits for the node index's first list before it is left for a retry. */
const SYNC_WAIT_MS = 20_000;

export function interruptedNodeValue(node: string, instanceId: string): string {
  return `${node} (${instanceId})`;
}

/** The decision for one Deployment; `interruptedNode` is this event's annotation value. */
export function planFor(deployment: V1Deployment, interruptedNode: string): Plan {
  const annotations = deployment.metadata?.annotations ?? {};
  if (requestedCompute(deployment) === "fargate") {
    const ours = annotations[Annotation.interruptedNode] === interruptedNode;
    return {
      action: "skip",
      why: "already-fargate",
      resume: ours && annotations[Annotation.rollout] === "progressing",
    };
  }
  const reasons = fargateIncompatibilities(deployment.spec?.template?.spec);
  if (reasons.length > 0) return { action: "skip", why: "fargate-incompatible", reasons };
  return { action: "flip" };
}

type FlipOutcome =
  | { outcome: "flipped"; deployment: V1Deployment }
  | { outcome: "skipped"; deployment: V1Deployment; plan: Exclude<Plan, { action: "flip" }> }
  | { outcome: "impossible"; deployment: V1Deployment; why: string }
  | { outcome: "failed"; deployment: V1Deployment; error: Error };

export function createMigrator(deps: MigratorDeps): Migrator {
  const { kube, nodes, config, metrics, alerter, events } = deps;
  const scope: Scope = {
    namespaces: config.kubernetes.namespaces,
    deploymentName: config.kubernetes.deploymentName,
  };
  const dryRun = config.migration.dryRun;
  const owners = new ReplicaSetOwners(kube);
  const inFlight = new Map<string, Promise<void>>();
  const following = new Map<string, Promise<FollowVerdict>>();
  const pending = new Set<Promise<unknown>>();
  let aborter = new AbortController();

  const track = <T>(promise: Promise<T>): Promise<T> => {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise)).catch(() => undefined);
    return promise;
  };

  // Duplicates of an event for the same instance queue behind the first; their own pass then finds
  // every Deployment already on fargate and skips it.
  const handle: EventHandler = async (event, context) => {
    const previous = inFlight.get(event.instanceId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => migrate(event, context.log, context.receivedAt));
    inFlight.set(event.instanceId, run);
    try {
      await run;
    } finally {
      if (inFlight.get(event.instanceId) === run) inFlight.delete(event.instanceId);
    }
  };

  async function migrate(event: Ec2Event, parentLog: Logger, receivedAt: number): Promise<void> {
    await synced();
    const node = nodes.byInstanceId(event.instanceId);
    const nodeName = node?.metadata?.name;
    if (nodeName === undefined) {
      throw new PermanentError(
        "foreign-instance",
        `instance ${event.instanceId} is not a node of this cluster`,
      );
    }
    const log = childWith(parentLog, { eventId: event.id, instanceId: event.instanceId, node: nodeName });
    const deployments = await affectedDeployments(
      kube,
      nodeName,
      scope,
      owners,
      config.migration.maxConcurrentFlips,
    );
    if (deployments.length === 0) {
      log.info({ kind: event.kind }, "no opted-in Deployments on the node; nothing to do");
      return;
    }
    if (event.kind === "rebalance-recommendation" && config.migration.rebalanceAction === "alert") {
      alertOnly(event, nodeName, deployments, log);
      return;
    }

    const interruptedNode = interruptedNodeValue(nodeName, event.instanceId);
    const outcomes = await mapLimit(deployments, config.migration.maxConcurrentFlips, (d) =>
      flip(d, event, interruptedNode, log),
    );
    const flipped = outcomes.filter((o) => o.outcome === "flipped").map((o) => o.deployment);
    if (flipped.length > 0 && !dryRun) metrics.eventToFlip.observe((Date.now() - receivedAt) / 1000);
    report(event, nodeName, outcomes, log);

    const failed = outcomes.filter((o) => o.outcome === "failed");
    if (!dryRun) {
      const resumed = outcomes.flatMap((o) =>
        o.outcome === "skipped" &&
        o.plan.why === "already-fargate" &&
        o.plan.resume &&
        !following.has(keyOf(o.deployment))
          ? [o.deployment]
          : [],
      );
      const toFollow = [...flipped, ...resumed];
      if (toFollow.length > 0) followAll(toFollow, event, nodeName, log);
    }
    if (failed.length > 0) {
      const detail = failed.map((o) => `${keyOf(o.deployment)}: ${o.error.message}`).join("; ");
      throw new RetryableError(`${failed.length} of ${outcomes.length} flips failed: ${detail}`);
    }
  }

  async function flip(
    initial: V1Deployment,
    event: Ec2Event,
    interruptedNode: string,
    eventLog: Logger,
  ): Promise<FlipOutcome> {
    let deployment = initial;
    const ref = refOf(deployment);
    const log = eventLog.child(ref);
    for (let attempt = 1; ; attempt++) {
      const plan = planFor(deployment, interruptedNode);
      if (plan.action === "skip") return { outcome: "skipped", deployment, plan };
      const annotations: Record<string, string> = {
        [Annotation.compute]: "fargate",
        [Annotation.reason]: event.kind,
        [Annotation.interruptedNode]: interruptedNode,
        [Annotation.rollout]: "progressing" satisfies RolloutState,
      };
      try {
        const stored = await patchDeploymentMetadata(
          kube,
          ref,
          { annotations, ...resourceVersionOf(deployment) },
          { dryRun },
        );
        log.info({ dryRun }, dryRun ? "dry run: would move to Fargate" : "compute flipped to fargate");
        return { outcome: "flipped", deployment: stored };
      } catch (err) {
        const status = statusOf(err);
        if (status === 409 && attempt < MAX_FLIP_ATTEMPTS) {
          // changed since it was read: decide again on the current version
          try {
            deployment = await kube.apps.readNamespacedDeployment(ref);
            continue;
          } catch (readErr) {
            if (statusOf(readErr) === 404) return { outcome: "impossible", deployment, why: "deleted" };
            return { outcome: "failed", deployment, error: toError(readErr) };
          }
        }
        if (err instanceof PermanentError) {
          log.warn({ err }, "compute flip is impossible; skipping the Deployment");
          return { outcome: "impossible", deployment, why: err.message };
        }
        log.error({ err }, "compute flip failed; the event will be retried");
        return { outcome: "failed", deployment, error: toError(err) };
      }
    }
  }

  function report(event: Ec2Event, nodeName: string, outcomes: FlipOutcome[], log: Logger): void {
    const moved: AffectedDeployment[] = [];
    const skipped: { deployment: AffectedDeployment; why: string }[] = [];
    for (const o of outcomes) {
      const ref = refOf(o.deployment);
      if (o.outcome === "flipped") {
        moved.push(ref);
        if (dryRun) metrics.deploymentsSkipped.inc({ why: "dry-run" });
        else metrics.deploymentsFlipped.inc({ compute: "fargate", reason: event.kind });
        record(o.deployment, {
          type: "Normal",
          reason: EventReason.migratingToFargate,
          action: "Migrate",
          note: `${event.detailType} for node ${interruptedNodeValue(nodeName, event.instanceId)}: moving to Fargate`,
        });
      } else if (o.outcome === "skipped" && o.plan.why === "fargate-incompatible") {
        const why = `cannot run on Fargate: ${o.plan.reasons.join("; ")}`;
        metrics.deploymentsSkipped.inc({ why: "fargate-incompatible" });
        skipped.push({ deployment: ref, why });
        log.warn({ ...ref, reasons: o.plan.reasons }, "Deployment cannot run on Fargate; left on its node");
        record(o.deployment, {
          type: "Warning",
          reason: EventReason.fargateIncompatible,
          action: "Migrate",
          note: `Not moved to Fargate after ${event.detailType} for node ${nodeName}: ${o.plan.reasons.join("; ")}`,
        });
      } else if (o.outcome === "skipped") {
        metrics.deploymentsSkipped.inc({ why: "already-fargate" });
        log.info(ref, "Deployment already on Fargate; left alone");
      } else if (o.outcome === "impossible") {
        metrics.deploymentsSkipped.inc({ why: "impossible" });
        skipped.push({ deployment: ref, why: o.why });
      }
    }
    if (moved.length > 0 || skipped.length > 0) {
      alerter.interruption({ event, node: nodeName, deployments: moved, skipped, dryRun });
    }
  }

  function alertOnly(event: Ec2Event, nodeName: string, deployments: V1Deployment[], log: Logger): void {
    const why = "rebalance recommendation: alert only (REBALANCE_ACTION=alert)";
    log.info({ deployments: deployments.map(keyOf) }, "rebalance recommended; alerting only");
    metrics.deploymentsSkipped.inc({ why: "rebalance-alert" }, deployments.length);
    for (const d of deployments) {
      record(d, {
        type: "Normal",
        reason: EventReason.rebalanceRecommended,
        action: "Alert",
        note: `EC2 recommends rebalancing node ${interruptedNodeValue(nodeName, event.instanceId)}; not moved (REBALANCE_ACTION=alert)`,
      });
    }
    alerter.interruption({
      event,
      node: nodeName,
      deployments: [],
      skipped: deployments.map((d) => ({ deployment: refOf(d), why })),
      dryRun,
    });
  }

  function followAll(
    deployments: V1Deployment[],
    event: Ec2Event | undefined,
    nodeName: string,
    log: Logger,
  ): void {
    const verdicts = deployments.map((d) => follow(d, log));
    track(
      Promise.all(verdicts).then((results) => {
        const decided = results.filter((r): r is Required<FollowVerdict> => r.result !== undefined);
        if (decided.length === 0) return;
        const ok = decided.every((r) => r.result.ok);
        const failures = decided.filter((r) => !r.result.ok).length;
        alerter.summary({
          title: ok
            ? `Moved ${decided.length} Deployment(s) off ${nodeName} to Fargate`
            : `${failures} of ${decided.length} Deployment(s) failed to move off ${nodeName} to Fargate`,
          ok,
          lines: decided.map(({ ref, result }) =>
            result.ok
              ? `${ref.namespace}/${ref.name}: healthy on Fargate after ${Math.round(result.seconds)}s`
              : `${ref.namespace}/${ref.name}: failed: ${result.why}`,
          ),
          eventId: event?.id,
        });
      }),
    );
  }

  function follow(deployment: V1Deployment, parentLog: Logger): Promise<FollowVerdict> {
    const key = keyOf(deployment);
    const existing = following.get(key);
    if (existing) return existing;
    const promise = track(followToVerdict(deployment, parentLog.child(refOf(deployment)), aborter.signal));
    following.set(key, promise);
    void promise.finally(() => following.delete(key));
    return promise;
  }

  async function followToVerdict(
    deployment: V1Deployment,
    log: Logger,
    signal: AbortSignal,
  ): Promise<FollowVerdict> {
    const ref = refOf(deployment);
    const result = await followRollout(kube, ref, "fargate", config.migration.rolloutTimeout, {
      ...followOptionsFrom(config, ref, log),
      signal,
    });
    if (signal.aborted) return { ref };
    try {
      await recordVerdict(deployment, result, log);
    } catch (err) {
      log.error({ err }, "recording the migration verdict failed");
    }
    return { ref, result };
  }

  async function recordVerdict(flipped: V1Deployment, result: FollowResult, log: Logger): Promise<void> {
    const ref = refOf(flipped);
    const rollout: RolloutState = result.ok ? "healthy" : `failed: ${shorten(result.why, 200)}`;
    const current = await kube.apps.readNamespacedDeployment(ref);
    if (requestedCompute(current) !== "fargate") {
      log.info({ result }, "compute changed while the move was followed; verdict not recorded");
      return;
    }
    const stored = await patchDeploymentMetadata(kube, ref, {
      annotations: { [Annotation.rollout]: rollout },
      ...resourceVersionOf(current),
    });
    if (result.ok) {
      log.info({ seconds: result.seconds }, "healthy on Fargate");
      metrics.timeToHealthy.observe({ compute: "fargate" }, result.seconds);
      metrics.rollouts.inc({ compute: "fargate", result: "healthy" });
      record(stored, {
        type: "Normal",
        reason: EventReason.migratedToFargate,
        action: "Verify",
        note: `Healthy on Fargate after ${Math.round(result.seconds)}s`,
      });
    } else {
      log.error({ why: result.why }, "move to Fargate failed");
      metrics.rollouts.inc({ compute: "fargate", result: "failed" });
      record(stored, {
        type: "Warning",
        reason: EventReason.migrationFailed,
        action: "Verify",
        note: `Move to Fargate failed: ${result.why}`,
      });
      alerter.problem(`Moving ${ref.namespace}/${ref.name} to Fargate failed: ${result.why}`, {
        deployment: `${ref.namespace}/${ref.name}`,
        node: flipped.metadata?.annotations?.[Annotation.interruptedNode] ?? "",
      });
    }
  }

  function record(deployment: V1Deployment, event: Parameters<EventRecorder["record"]>[1]): void {
    track(events.record(deployment, event));
  }

  async function resume(): Promise<number> {
    const log = deps.log;
    const list = await listOptedInDeployments(kube, scope);
    const stale = list.filter((d) => {
      const annotations = d.metadata?.annotations ?? {};
      return (
        requestedCompute(d) === "fargate" &&
        annotations[Annotation.rollout] === "progressing" &&
        MIGRATION_REASONS.has(annotations[Annotation.reason] ?? "") &&
        !following.has(keyOf(d))
      );
    });
    if (stale.length > 0 && !dryRun) {
      log.info({ deployments: stale.map(keyOf) }, "resuming follow-up of moves to Fargate");
      followAll(stale, undefined, "interrupted nodes", log);
    }
    return stale.length;
  }

  async function synced(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RetryableError("the node index has not listed the nodes yet")),
        SYNC_WAIT_MS,
      );
    });
    try {
      await Promise.race([nodes.synced, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function idle(): Promise<void> {
    while (pending.size > 0) await Promise.allSettled([...pending]);
  }

  function stop(): void {
    aborter.abort();
    aborter = new AbortController();
  }

  return Object.assign(handle, { idle, resume, stop });
}

interface FollowVerdict {
  ref: AffectedDeployment;
  /** Undefined when the follow-up was stopped before a verdict. */
  result?: FollowResult;
}

function refOf(deployment: V1Deployment): AffectedDeployment {
  return { namespace: deployment.metadata?.namespace ?? "", name: deployment.metadata?.name ?? "" };
}

function keyOf(deployment: V1Deployment): string {
  return `${deployment.metadata?.namespace}/${deployment.metadata?.name}`;
}

function resourceVersionOf(deployment: V1Deployment): { resourceVersion?: string } {
  const resourceVersion = deployment.metadata?.resourceVersion;
  return resourceVersion ? { resourceVersion } : {};
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/** A child logger with only the fields the parent does not already carry. */
function childWith(log: Logger, fields: Record<string, string>): Logger {
  const bound = log.bindings();
  return log.child(Object.fromEntries(Object.entries(fields).filter(([k]) => !(k in bound))));
}
