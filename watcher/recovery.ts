// The recovery loop (leader only): Deployments on Fargate go back to spot when spot really has room,
// one bounded batch at a time; a failed attempt rolls back to Fargate and backs off exponentially.
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation, EventReason, requestedCompute, type Reason } from "../core/contract.ts";
import type { Config } from "../core/config.ts";
import { formatDuration } from "../core/duration.ts";
import { patchDeploymentMetadata, statusOf, type AnnotationPatch, type Kube } from "../core/kube.ts";
import type { Logger } from "../core/log.ts";
import { place } from "../core/placement.ts";
import { rfc3339 } from "../core/time.ts";
import type { EventRecorder } from "./alerts/events.ts";
import type { InterruptionLog } from "./interruptions.ts";
import type { WatcherMetrics } from "./metrics.ts";
import type { NodeIndex } from "./cluster/nodeIndex.ts";
import { followOptionsFrom, followRollout, type FollowResult } from "./rollout.ts";
import { recoveryState } from "./recoveryPolicy.ts";
import { spotFit } from "./spotCapacity.ts";
import type { Alerter } from "./types.ts";
import { Periodic } from "./periodic.ts";

export interface RecoveryDeps {
  kube: Kube;
  config: Config;
  nodes: NodeIndex;
  interruptions: InterruptionLog;
  recorder: EventRecorder;
  alerter: Alerter;
  metrics: WatcherMetrics;
  log: Logger;
  listDeployments: () => Promise<V1Deployment[]>;
}

type Ref = { namespace: string; name: string };
const key = (ref: Ref) => `${ref.namespace}/${ref.name}`;

export class Recovery {
  private readonly deps: RecoveryDeps;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly loop: Periodic;

  constructor(deps: RecoveryDeps) {
    this.deps = deps;
    this.loop = new Periodic(
      deps.config.recovery.interval,
      () => this.runOnce(),
      deps.log.child({ loop: "recovery" }),
    );
  }

  start(): void {
    this.loop.start();
  }

  /** Stops starting new attempts and waits for the ones under way. */
  async stop(): Promise<void> {
    await this.loop.stop();
    await this.idle();
  }

  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
  }

  /** One pass: start recovery for every due candidate that spot has room for, up to the concurrency cap. */
  async runOnce(now: number = Date.now()): Promise<string[]> {
    const { config, log, kube } = this.deps;
    const candidates = (await this.deps.listDeployments()).filter((d) => requestedCompute(d) === "fargate");
    if (candidates.length === 0) return [];
    const pods = (
      await kube.core.listPodForAllNamespaces({
        fieldSelector: "status.phase!=Succeeded,status.phase!=Failed",
      })
    ).items;
    const view = {
      nodes: this.deps.nodes.all(),
      pods,
      interruptedNodes: this.deps.interruptions.nodes(now),
      stormZones: this.deps.interruptions.zones(now),
    };
    const started: string[] = [];
    for (const deployment of candidates) {
      const ref = { namespace: deployment.metadata?.namespace ?? "", name: deployment.metadata?.name ?? "" };
      const skip = (why: string) => log.debug({ ...ref, why }, "recovery skipped");
      if (this.inFlight.has(key(ref))) continue;
      const state = recoveryState(deployment, config.recovery);
      if (!state.eligible) {
        skip(state.why);
        continue;
      }
      if (state.notBefore > now) {
        skip(`cooldown/backoff: due in ${formatDuration(state.notBefore - now)}`);
        continue;
      }
      if (this.inFlight.size >= config.recovery.maxConcurrent) {
        skip(`${config.recovery.maxConcurrent} Deployments already recovering`);
        continue;
      }
      const spec = place(deployment, "spot", config.compute).spec?.template.spec;
      const fit = spec
        ? spotFit(spec, deployment.spec?.replicas ?? 1, view)
        : { fits: false as const, why: "no pod template" };
      if (!fit.fits) {
        skip(fit.why);
        continue;
      }
      started.push(key(ref));
      const attempt = this.attempt(deployment, ref, state.failures, fit.nodes).finally(() =>
        this.inFlight.delete(key(ref)),
      );
      this.inFlight.set(key(ref), attempt);
    }
    return started;
  }

  private async attempt(
    deployment: V1Deployment,
    ref: Ref,
    failures: number,
    nodes: string[],
  ): Promise<void> {
    const { config, kube, log: root, recorder, metrics } = this.deps;
    const log = root.child({ ...ref, recovery: true });
    if (config.migration.dryRun) {
      log.info({ nodes }, "dry run: would recover to spot");
      return;
    }
    let flipped: V1Deployment;
    try {
      flipped = await patchDeploymentMetadata(kube, ref, {
        annotations: {
          [Annotation.compute]: "spot",
          [Annotation.reason]: "recovery" satisfies Reason,
          [Annotation.lastRecoveryAt]: rfc3339(new Date()),
          [Annotation.rollout]: "progressing",
        },
        resourceVersion: deployment.metadata?.resourceVersion ?? "",
      });
    } catch (err) {
      // A conflict means someone changed it since we looked; the next pass looks again.
      log.info({ err, status: statusOf(err) }, "recovery flip not stored; will look again next pass");
      return;
    }
    log.info({ nodes }, "recovering to spot");
    void recorder.record(flipped, {
      type: "Normal",
      reason: EventReason.recoveringToSpot,
      action: "Recover",
      note: `Spot capacity is healthy (${nodes.join(", ")}); moving back to spot`,
    });
    const result = await this.follow(ref, log);
    if (result.ok) await this.succeeded(ref, result.seconds, log);
    else await this.failed(ref, failures, result.why, log);
    metrics.recoveries.inc({ result: result.ok ? "recovered" : "rolled-back" });
  }

  /** Follows the move to spot, stopping early if something else (an interruption) sends it back to Fargate. */
  private async follow(ref: Ref, log: Logger): Promise<FollowResult> {
    const { kube, config } = this.deps;
    const abort = new AbortController();
    const watch = setInterval(() => {
      kube.apps.readNamespacedDeployment(ref).then(
        (d) => requestedCompute(d) !== "spot" && abort.abort(),
        () => undefined,
      );
    }, config.monitoring.checkInterval);
    try {
      const result = await followRollout(kube, ref, "spot", config.recovery.timeout, {
        ...followOptionsFrom(config, ref, log),
        signal: abort.signal,
      });
      return abort.signal.aborted
        ? { ok: false, why: "interrupted: moved back to Fargate during recovery" }
        : result;
    } finally {
      clearInterval(watch);
    }
  }

  private async succeeded(ref: Ref, seconds: number, log: Logger): Promise<void> {
    const updated = await this.patchWithRetry(ref, log, () => ({
      [Annotation.failedRecoveryAttempts]: null,
      [Annotation.rollout]: "healthy",
    }));
    log.info({ seconds }, "recovered to spot");
    if (updated) {
      void this.deps.recorder.record(updated, {
        type: "Normal",
        reason: EventReason.recoveredToSpot,
        action: "Recover",
        note: `Back on spot and healthy after ${Math.round(seconds)}s`,
      });
    }
    this.deps.alerter.summary({
      title: `${key(ref)} recovered to spot`,
      ok: true,
      lines: [`healthy on spot after ${Math.round(seconds)}s`],
    });
  }

  private async failed(ref: Ref, failures: number, why: string, log: Logger): Promise<void> {
    const next = failures + 1;
    const backoff = formatDuration(
      Math.min(this.deps.config.recovery.backoffBase * 2 ** (next - 1), this.deps.config.recovery.maxBackoff),
    );
    // If an interruption already moved it to Fargate, its reason stands; otherwise roll back ourselves.
    const updated = await this.patchWithRetry(ref, log, (current) => ({
      ...(requestedCompute(current) === "spot"
        ? {
            [Annotation.compute]: "fargate",
            [Annotation.reason]: "rollback" satisfies Reason,
            [Annotation.rollout]: `failed: ${why}`,
          }
        : {}),
      [Annotation.failedRecoveryAttempts]: String(next),
    }));
    log.warn({ why, failures: next, backoff }, "recovery failed; rolled back to fargate");
    if (updated) {
      void this.deps.recorder.record(updated, {
        type: "Warning",
        reason: EventReason.recoveryRolledBack,
        action: "Recover",
        note: `Recovery to spot failed (${why}); back to Fargate, next attempt in ${backoff} at the earliest`,
      });
    }
    this.deps.alerter.problem(`Recovery of ${key(ref)} to spot failed; rolled back to Fargate`, {
      why,
      "failed attempts": String(next),
      "next attempt after": backoff,
    });
  }

  /** A read-modify-write guarded by resourceVersion, retried on conflict so no concurrent update is lost. */
  private async patchWithRetry(
    ref: Ref,
    log: Logger,
    change: (current: V1Deployment) => AnnotationPatch,
  ): Promise<V1Deployment | undefined> {
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const current = await this.deps.kube.apps.readNamespacedDeployment(ref);
        return await patchDeploymentMetadata(this.deps.kube, ref, {
          annotations: change(current),
          resourceVersion: current.metadata?.resourceVersion ?? "",
        });
      } catch (err) {
        log.warn({ err, attempt }, "recording the recovery outcome failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
    log.error("could not record the recovery outcome");
    return undefined;
  }
}
