// Follows a move to its verdict, for migration and recovery alike: the rollout and health on the target,
// stopped early when the Deployment's compute changes again; then one conflict-retrying write of the
// verdict, and the metric, Event and alert that tell of it. A follow-up stopped by the end of the leader's
// term writes nothing: the Deployment stays `rollout=progressing` and the next leader (or the next
// recovery pass, after a failed verdict write) follows it again.
import type { V1Deployment } from "@kubernetes/client-node";
import {
  Annotation,
  EventReason,
  isOffSpot,
  PLACE_NAME,
  requestedCompute,
  type Compute,
  type OffSpot,
} from "../../core/contract.ts";
import type { Config } from "../../core/config.ts";
import type { Logger } from "../../core/log.ts";
import type { Alerter } from "../alerts/alerter.ts";
import type { DeploymentEvent, EventReasonValue, EventRecorder } from "../alerts/kubeEvents.ts";
import { keyOf, refOf, updateDeployment, type DeploymentRef, type Deployments } from "./deployments.ts";
import type { WatcherMetrics } from "../metrics.ts";
import type { DrainGuards } from "./drainGuard.ts";
import {
  describeTiming,
  failedRecoveries,
  moveTiming,
  verdictPatch,
  type FollowResult,
  type MoveTiming,
  type WriteContext,
} from "./patches.ts";
import type { FollowRollout } from "./rollout.ts";

export interface FollowUpDeps {
  deployments: Deployments;
  followRollout: FollowRollout;
  /** The drain guards of moves off spot, released with their verdict. */
  guards?: Pick<DrainGuards, "release"> | undefined;
  recorder: Pick<EventRecorder, "record">;
  alerter: Alerter;
  metrics: WatcherMetrics;
  config: Pick<Config, "migration" | "recovery" | "webhook">;
  log: Logger;
  /** The leader's term: once aborted, follow-ups stop and record nothing. */
  signal: AbortSignal;
  now?: () => Date;
  /**
   * When a Deployment whose recovery just failed may next try again, as the recovery loop will compute it
   * from what was just stored (recovery/policy.ts), for the Event and the alert.
   */
  nextRecovery: (stored: V1Deployment, now: Date) => string;
  /** First wait between tries of a verdict write, doubling over 5 tries; default 200 ms. */
  writeRetryBaseMs?: number;
}

export interface Verdict {
  ref: DeploymentRef;
  target: Compute;
  /** Undefined when the follow-up was stopped (end of the leader's term) before a verdict. */
  result?: FollowResult;
  /** A healthy move off spot made for an interruption, against its clock. */
  timing?: MoveTiming | undefined;
}

export class FollowUps {
  private readonly deps: FollowUpDeps;
  private readonly running = new Map<string, Promise<Verdict>>();
  /** Resumes still reading the stored Deployment, before their follow-up (if any) starts. */
  private readonly resuming = new Set<Promise<Verdict>>();
  /** Moves whose verdict said not done in time, still followed for the late-healthy grace. */
  private readonly late = new Set<Promise<void>>();

  constructor(deps: FollowUpDeps) {
    this.deps = deps;
  }

  isFollowing(ref: DeploymentRef): boolean {
    return this.running.has(keyOf(ref));
  }

  /** Follows the move the Deployment is in (to the compute it asks for); one follow-up per Deployment. */
  follow(deployment: V1Deployment): Promise<Verdict> {
    const ref = refOf(deployment);
    const existing = this.running.get(keyOf(ref));
    if (existing) return existing;
    const target = requestedCompute(deployment) ?? "spot";
    const following = this.run(deployment, target);
    this.running.set(keyOf(ref), following);
    void following.finally(() => this.running.delete(keyOf(ref)));
    return following;
  }

  /**
   * Follows every move in `deployments` left `rollout=progressing` that nobody follows: by a previous
   * leader, or after a verdict could not be written. Returns the verdicts of those it picked up.
   */
  resume(deployments: V1Deployment[]): Promise<Verdict>[] {
    return deployments
      .filter((d) => inProgress(d) && !this.isFollowing(refOf(d)))
      .map((d) => {
        const resumed = this.resumeStored(d);
        this.resuming.add(resumed);
        void resumed.finally(() => this.resuming.delete(resumed));
        return resumed;
      });
  }

  /**
   * A listed copy can predate a verdict written since it was listed (a follow-up that ended in between):
   * the move is followed only if the stored Deployment is still in that move.
   */
  private async resumeStored(listed: V1Deployment): Promise<Verdict> {
    const ref = refOf(listed);
    const target = requestedCompute(listed) ?? "spot";
    let stored: V1Deployment;
    try {
      stored = await this.deps.deployments.read(ref);
    } catch (err) {
      if (!this.deps.signal.aborted)
        this.deps.log.warn({ ...ref, err }, "reading a move left in progress failed");
      return { ref, target };
    }
    if (!inProgress(stored) || requestedCompute(stored) !== target) return { ref, target };
    if (!this.isFollowing(ref)) this.deps.log.info({ ...ref }, "following a move left in progress");
    return this.follow(stored);
  }

  /** Resolves once every follow-up started so far has ended. */
  async idle(): Promise<void> {
    while (this.running.size + this.resuming.size + this.late.size > 0) {
      await Promise.allSettled([...this.running.values(), ...this.resuming, ...this.late]);
    }
  }

  private async run(deployment: V1Deployment, target: Compute): Promise<Verdict> {
    const { config, signal } = this.deps;
    const ref = refOf(deployment);
    const log = this.deps.log.child({ ...ref, target });
    const timeout = target === "spot" ? config.recovery.timeout : config.migration.rolloutTimeout;
    const result = await this.deps.followRollout(ref, target, timeout, {
      log,
      signal,
      written: deployment,
      abortIf: (current) => {
        const compute = requestedCompute(current);
        return compute === target ? undefined : `compute changed to ${compute ?? "an invalid value"}`;
      },
    });
    if (signal.aborted) {
      log.info("follow-up stopped with the leader's term; the next leader follows the move");
      return { ref, target };
    }
    let recorded: { stored: V1Deployment; timing?: MoveTiming | undefined } | undefined;
    try {
      recorded = await this.record(deployment, target, result, log);
    } catch (err) {
      log.error({ err }, "recording the verdict failed; the move is followed again by the next pass");
    }
    if (isOffSpot(target)) await this.deps.guards?.release(ref, "verdict");
    if (recorded !== undefined && isOffSpot(target) && !result.ok && result.timedOut) {
      const late = this.followLate(recorded.stored, target, log);
      this.late.add(late);
      void late.finally(() => this.late.delete(late));
    }
    // a failed recovery's rollback is a move of its own, followed to its end (its verdict ends its surge)
    if (recorded !== undefined && target === "spot" && isRollback(recorded.stored)) {
      await this.run(recorded.stored, requestedCompute(recorded.stored) ?? "fargate");
    }
    return { ref, target, result, timing: recorded?.timing };
  }

  /**
   * A move that was not done in time may still finish: it is followed for `migration.late_healthy_grace`
   * more, and once healthy its `rollout` says so, with an Event and an alert, unless anything changed since.
   */
  private async followLate(stored: V1Deployment, target: OffSpot, log: Logger): Promise<void> {
    const { config, signal, deployments, recorder, alerter, metrics } = this.deps;
    const grace = config.migration.lateHealthyGrace;
    const failed = stored.metadata?.annotations?.[Annotation.rollout];
    if (grace <= 0 || failed === undefined) return;
    const unchanged = (current: V1Deployment) =>
      requestedCompute(current) === target && current.metadata?.annotations?.[Annotation.rollout] === failed;
    const result = await this.deps.followRollout(refOf(stored), target, grace, {
      log,
      signal,
      written: stored,
      abortIf: (current) => (unchanged(current) ? undefined : "the Deployment changed since its verdict"),
    });
    if (!result.ok || signal.aborted) return;
    const update = await updateDeployment(
      deployments,
      stored,
      (current) => (unchanged(current) ? { annotations: { [Annotation.rollout]: "healthy" } } : undefined),
      { signal, retryBaseMs: this.deps.writeRetryBaseMs ?? 200 },
    ).catch((err: unknown) => {
      log.warn({ err }, "correcting a late move's verdict failed");
      return undefined;
    });
    if (!update?.written) return;
    const where = PLACE_NAME[target];
    const note = `Healthy on ${where} after all, ${Math.round(result.seconds)}s after its verdict (${failed})`;
    metrics.lateHealthy.inc({ compute: target });
    log.info(
      { seconds: result.seconds, verdict: failed },
      `healthy on ${where} after all; verdict corrected`,
    );
    const reason = target === "fargate" ? EventReason.migratedToFargate : EventReason.migratedToOnDemand;
    recorder.record(update.deployment, event("Normal", reason, "Verify", note));
    alerter.summary({
      title: `${keyOf(refOf(stored))} healthy on ${where} after all`,
      ok: true,
      lines: [note],
    });
  }

  /**
   * Writes the verdict and tells of it; returns the Deployment as stored and the move's timing, undefined
   * when nothing was written.
   */
  private async record(
    deployment: V1Deployment,
    target: Compute,
    result: FollowResult,
    log: Logger,
  ): Promise<{ stored: V1Deployment; timing?: MoveTiming | undefined } | undefined> {
    const context: WriteContext = {
      now: this.deps.now?.() ?? new Date(),
      username: this.deps.config.webhook.orchestratorUsername,
    };
    const update = await updateDeployment(
      this.deps.deployments,
      deployment,
      (current) => verdictPatch(current, target, result, context),
      { signal: this.deps.signal, retryBaseMs: this.deps.writeRetryBaseMs ?? 200 },
    );
    if (!update.written) {
      log.info({ result }, "compute changed while the move was followed; verdict not recorded");
      return undefined;
    }
    const stored = update.deployment;
    if (isOffSpot(target) && isRollback(stored)) {
      this.announceRollback(stored, target, result, log);
      return { stored };
    }
    const timing = result.ok && isOffSpot(target) ? this.clock(stored, target, context.now, log) : undefined;
    this.announce(stored, target, result, context.now, log, timing);
    return { stored, timing };
  }

  /** The move against its interruption's clock: the move-ready histogram and the deadline counter. */
  private clock(stored: V1Deployment, target: OffSpot, now: Date, log: Logger): MoveTiming | undefined {
    const timing = moveTiming(stored, now);
    if (timing === undefined) return undefined;
    const { metrics } = this.deps;
    const reason = stored.metadata?.annotations?.[Annotation.reason] ?? "manual";
    metrics.moveReady.observe({ compute: target, reason }, timing.sinceEvent);
    const met = timing.beforeDeadline >= 0;
    metrics.moveDeadline.inc({ compute: target, reason, result: met ? "met" : "missed" });
    if (met) log.info({ ...timing }, describeTiming(timing));
    else
      log.warn(
        { ...timing },
        `${describeTiming(timing)}: its pods on the interrupted node may have gone first`,
      );
    return timing;
  }

  /** The end of a failed recovery's rollback: a log line when it is healthy again, an Event and alert if not. */
  private announceRollback(stored: V1Deployment, target: OffSpot, result: FollowResult, log: Logger): void {
    const { metrics, recorder, alerter } = this.deps;
    const where = PLACE_NAME[target];
    metrics.rollouts.inc({ compute: target, result: result.ok ? "healthy" : "failed" });
    if (result.ok) {
      log.info({ seconds: result.seconds }, `rolled back; healthy on ${where} again`);
      return;
    }
    const key = keyOf(refOf(stored));
    log.error({ why: result.why }, `rollback to ${where} failed`);
    const note = `Rollback to ${where} after a failed recovery failed: ${result.why}`;
    recorder.record(stored, event("Warning", EventReason.migrationFailed, "Verify", note));
    alerter.problem(`Rolling ${key} back to ${where} failed: ${result.why}`, { deployment: key });
  }

  /** The metric, Event, log line and alert of a recorded verdict. */
  private announce(
    stored: V1Deployment,
    target: Compute,
    result: FollowResult,
    now: Date,
    log: Logger,
    timing?: MoveTiming,
  ): void {
    const { metrics } = this.deps;
    metrics.rollouts.inc({ compute: target, result: result.ok ? "healthy" : "failed" });
    if (target === "spot") metrics.recoveries.inc({ result: result.ok ? "recovered" : "rolled-back" });
    if (result.ok) this.announceHealthy(stored, target, result.seconds, log, timing);
    else if (target !== "spot") this.announceFailedMove(stored, target, result, log);
    else this.announceFailedRecovery(stored, result.why, now, log);
  }

  private announceHealthy(
    stored: V1Deployment,
    target: Compute,
    seconds: number,
    log: Logger,
    timing: MoveTiming | undefined,
  ): void {
    const { metrics, recorder, alerter } = this.deps;
    const where = PLACE_NAME[target];
    log.info({ seconds }, target === "spot" ? "recovered to spot" : `healthy on ${where}`);
    metrics.timeToHealthy.observe({ compute: target }, seconds);
    const after = `after ${Math.round(seconds)}s`;
    if (target !== "spot") {
      const reason = target === "fargate" ? EventReason.migratedToFargate : EventReason.migratedToOnDemand;
      const clock = timing === undefined ? "" : `; ${describeTiming(timing)}`;
      recorder.record(stored, event("Normal", reason, "Verify", `Healthy on ${where} ${after}${clock}`));
      return;
    }
    recorder.record(
      stored,
      event("Normal", EventReason.recoveredToSpot, "Recover", `Back on spot and healthy ${after}`),
    );
    const key = keyOf(refOf(stored));
    alerter.summary({ title: `${key} recovered to spot`, ok: true, lines: [`healthy on spot ${after}`] });
  }

  private announceFailedMove(
    stored: V1Deployment,
    target: OffSpot,
    result: Extract<FollowResult, { ok: false }>,
    log: Logger,
  ): void {
    const { recorder, alerter } = this.deps;
    const key = keyOf(refOf(stored));
    const where = PLACE_NAME[target];
    log.error({ why: result.why, pending: result.pending }, `move to ${where} failed`);
    const reason =
      result.pending && target === "fargate" ? EventReason.pendingOnFargate : EventReason.migrationFailed;
    recorder.record(stored, event("Warning", reason, "Verify", `Move to ${where} failed: ${result.why}`));
    alerter.problem(`Moving ${key} to ${where} failed: ${result.why}`, {
      deployment: key,
      node: stored.metadata?.annotations?.[Annotation.interruptedNode] ?? "",
    });
  }

  private announceFailedRecovery(stored: V1Deployment, why: string, now: Date, log: Logger): void {
    const { recorder, alerter, nextRecovery } = this.deps;
    const key = keyOf(refOf(stored));
    const next = nextRecovery(stored, now);
    const failures = failedRecoveries(stored);
    const back = PLACE_NAME[requestedCompute(stored) ?? "fargate"];
    log.warn({ why, failures, next }, `recovery failed; back on ${back}`);
    recorder.record(
      stored,
      event(
        "Warning",
        EventReason.recoveryRolledBack,
        "Recover",
        `Recovery to spot failed (${why}); back on ${back}, next attempt ${next} at the earliest`,
      ),
    );
    alerter.problem(`Recovery of ${key} to spot failed; back on ${back}`, {
      why,
      "failed attempts": String(failures),
      "next attempt": next,
    });
  }
}

function event(
  type: DeploymentEvent["type"],
  reason: EventReasonValue,
  action: "Verify" | "Recover",
  note: string,
): DeploymentEvent {
  return { type, reason, action, note };
}

function isRollback(d: V1Deployment): boolean {
  return isOffSpot(requestedCompute(d)) && d.metadata?.annotations?.[Annotation.reason] === "rollback";
}

function inProgress(d: V1Deployment): boolean {
  return d.metadata?.annotations?.[Annotation.rollout] === "progressing" && requestedCompute(d) !== undefined;
}
