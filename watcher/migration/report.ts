// How the moves of one interruption are told: metrics, an Event on each Deployment, and one alert for the
// interruption (not one per Deployment), naming what moved where and what was left, and why.
import type { V1Deployment } from "@kubernetes/client-node";
import { EventReason, isOffSpot, PLACE_NAME } from "../../core/contract.ts";
import type { Logger } from "../../core/log.ts";
import type { Alerter } from "../alerts/alerter.ts";
import type { Verdict } from "../moves/followUp.ts";
import { describeTiming } from "../moves/patches.ts";
import type { EventReasonValue, EventRecorder } from "../alerts/kubeEvents.ts";
import { keyOf, refOf, type DeploymentRef } from "../moves/deployments.ts";
import type { WatcherMetrics } from "../metrics.ts";
import { rfc3339 } from "../../core/time.ts";
import type { GuardOutcome } from "../moves/drainGuard.ts";
import { deadlineOf, describeEvent, type InterruptionEvent } from "../sqs/interruptionEvent.ts";
import type { AtRisk } from "./forecast.ts";
import { describeNotFargate, interruptedNodeValue, type NotFargate, type Plan } from "./plan.ts";

export type MoveStart =
  | { outcome: "moved"; deployment: V1Deployment; to: "fargate" }
  | { outcome: "moved"; deployment: V1Deployment; to: "on-demand"; because: NotFargate }
  | { outcome: "skipped"; deployment: V1Deployment; plan: Extract<Plan, { action: "skip" }> }
  | { outcome: "impossible"; deployment: V1Deployment; why: string }
  | { outcome: "failed"; deployment: V1Deployment; error: Error };

export interface ReportDeps {
  metrics: WatcherMetrics;
  recorder: Pick<EventRecorder, "record">;
  alerter: Alerter;
  dryRun: boolean;
}

interface Told {
  deployments: DeploymentRef[];
  onDemand: { deployment: DeploymentRef; why: string }[];
  skipped: { deployment: DeploymentRef; why: string }[];
}

/** `budget`: the Fargate budget's use once this interruption's moves are done, when there is a budget. */
export function reportMoves(
  deps: ReportDeps,
  event: InterruptionEvent,
  node: string,
  outcomes: MoveStart[],
  log: Logger,
  budget?: string,
): void {
  const { metrics, recorder, alerter, dryRun } = deps;
  const told: Told = { deployments: [], onDemand: [], skipped: [] };
  const cause = `${describeEvent(event)} for node ${interruptedNodeValue(node, event.instanceId)}`;
  for (const o of outcomes) {
    const ref = refOf(o.deployment);
    if (o.outcome === "moved") {
      if (dryRun) metrics.deploymentsSkipped.inc({ why: "dry-run" });
      else metrics.deploymentsFlipped.inc({ compute: o.to, reason: event.kind });
      if (o.to === "fargate") {
        told.deployments.push(ref);
        recorder.record(o.deployment, {
          type: "Normal",
          reason: EventReason.migratingToFargate,
          action: "Migrate",
          note: `${cause}: moving to Fargate`,
        });
        continue;
      }
      const why = describeNotFargate(o.because);
      told.onDemand.push({ deployment: ref, why });
      notFargate(deps, o.deployment, o.because, `${cause}: moving to on-demand nodes instead`, log);
      recorder.record(o.deployment, {
        type: "Normal",
        reason: EventReason.migratingToOnDemand,
        action: "Migrate",
        note: `${cause}: moving to on-demand nodes (fargate.fallback=on-demand): ${why}`,
      });
    } else if (o.outcome === "skipped") {
      const { plan } = o;
      if (plan.why === "already-moved") {
        metrics.deploymentsSkipped.inc({ why: `already-${plan.compute}` });
        log.info({ ...ref, compute: plan.compute }, "Deployment already off spot; left alone");
        continue;
      }
      metrics.deploymentsSkipped.inc({ why: plan.because.why });
      told.skipped.push({ deployment: ref, why: describeNotFargate(plan.because) });
      notFargate(deps, o.deployment, plan.because, `${cause}: left on its node (fargate.fallback=none)`, log);
    } else if (o.outcome === "impossible") {
      metrics.deploymentsSkipped.inc({ why: "impossible" });
      told.skipped.push({ deployment: ref, why: o.why });
    }
  }
  if (told.deployments.length + told.onDemand.length + told.skipped.length > 0) {
    alerter.interruption({ event, node, ...told, dryRun, ...(budget === undefined ? {} : { budget }) });
  }
}

const NOT_FARGATE_REASON: Record<NotFargate["why"], EventReasonValue> = {
  "over-budget": EventReason.fargateBudgetExceeded,
  "fargate-incompatible": EventReason.fargateIncompatible,
  "too-late": EventReason.deadlineAtRisk,
};

/** The Warning Event, log line and metric of a Deployment that does not go to Fargate. */
function notFargate(
  deps: ReportDeps,
  deployment: V1Deployment,
  because: NotFargate,
  what: string,
  log: Logger,
): void {
  const ref = refOf(deployment);
  const why = describeNotFargate(because);
  if (because.why === "over-budget") deps.metrics.fargateBudgetExceeded.inc();
  log.warn({ ...ref, why }, `Deployment not moved to Fargate: ${what}`);
  deps.recorder.record(deployment, {
    type: "Warning",
    reason: NOT_FARGATE_REASON[because.why],
    action: "Migrate",
    note: `Not moved to Fargate (${why}); ${what}`,
  });
}

/** The Event reason and skip label of each kind that may only alert (see eventAction.ts). */
const ALERT_ONLY: Partial<Record<InterruptionEvent["kind"], { reason: EventReasonValue; skipped: string }>> =
  {
    "rebalance-recommendation": { reason: EventReason.rebalanceRecommended, skipped: "rebalance-alert" },
    "scheduled-change": { reason: EventReason.scheduledChangeAnnounced, skipped: "scheduled-change-alert" },
    "asg-termination": { reason: EventReason.instanceTerminating, skipped: "asg-termination-alert" },
  };
const OTHER_ALERT = { reason: EventReason.instanceTerminating, skipped: "alert" };

/** An event that only alerts (`why`, e.g. REBALANCE_ACTION=alert): Events and one alert, nothing moved. */
export function reportAlertOnly(
  deps: ReportDeps,
  event: InterruptionEvent,
  node: string,
  deployments: V1Deployment[],
  why: string,
  log: Logger,
): void {
  const { metrics, recorder, alerter, dryRun } = deps;
  log.info({ deployments: deployments.map((d) => keyOf(refOf(d))), why }, "alerting only; nothing moved");
  const { reason, skipped } = ALERT_ONLY[event.kind] ?? OTHER_ALERT;
  metrics.deploymentsSkipped.inc({ why: skipped }, deployments.length);
  for (const d of deployments) {
    recorder.record(d, {
      type: "Normal",
      reason,
      action: "Alert",
      note: `${describeEvent(event)} for node ${interruptedNodeValue(node, event.instanceId)}; not moved (${why})`,
    });
  }
  alerter.interruption({
    event,
    node,
    deployments: [],
    skipped: deployments.map((d) => ({ deployment: refOf(d), why })),
    dryRun,
  });
}

/** The Event of a move whose pods no drain guard holds: a PodDisruptionBudget of the user's does, or too late. */
export function reportGuard(
  recorder: Pick<EventRecorder, "record">,
  deployment: V1Deployment,
  outcome: GuardOutcome,
): void {
  if (outcome.guarded || outcome.why === "failed" || outcome.why === "nothing-on-node") return;
  recorder.record(deployment, {
    type: "Normal",
    reason: EventReason.drainGuardSkipped,
    action: "Migrate",
    note: `No drain guard while it moves: ${outcome.detail}`,
  });
}

/**
 * The moves that cannot be Ready on Fargate before their pods on the doomed node must go: a Warning Event on
 * each and one alert, at the start, so a person knows which Deployments will lose pods.
 */
export function reportAtRisk(
  deps: ReportDeps,
  event: InterruptionEvent,
  node: string,
  late: AtRisk[],
  log: Logger,
): void {
  const deadline = rfc3339(deadlineOf(event));
  const lines = late.map(({ deployment, readyBy, holdUntil }) => {
    const seconds = Math.round((readyBy.getTime() - holdUntil.getTime()) / 1000);
    return {
      deployment,
      text: `expected Ready on Fargate at ${rfc3339(readyBy)}, ${seconds}s after its pods on ${node} must go (${rfc3339(holdUntil)})`,
    };
  });
  log.warn(
    { deployments: lines.map((l) => `${keyOf(refOf(l.deployment))}: ${l.text}`), deadline },
    "moves that cannot be Ready on Fargate before the node's deadline",
  );
  if (deps.dryRun) return;
  for (const { deployment, text } of lines) {
    deps.recorder.record(deployment, {
      type: "Warning",
      reason: EventReason.deadlineAtRisk,
      action: "Migrate",
      note: `Cannot be Ready before node ${node} goes at ${deadline}: ${text}; drainers will evict those pods before their replacements are Ready`,
    });
  }
  deps.alerter.problem(`${late.length} Deployment(s) cannot be Ready on Fargate before node ${node} goes`, {
    deadline,
    event: describeEvent(event),
    ...Object.fromEntries(lines.map((l) => [keyOf(refOf(l.deployment)), l.text])),
  });
}

/** One summary alert for the moves off spot of one interruption (or of those resumed together). */
export async function summarizeMigrations(
  alerter: Alerter,
  verdicts: Promise<Verdict>[],
  where: string,
  eventId?: string,
): Promise<void> {
  const decided = (await Promise.all(verdicts)).filter(
    (v): v is Required<Verdict> => v.result !== undefined && isOffSpot(v.target),
  );
  if (decided.length === 0) return;
  const failures = decided.filter((v) => !v.result.ok).length;
  const late = decided.filter((v) => v.timing !== undefined && v.timing.beforeDeadline < 0).length;
  const targets = [...new Set(decided.map((v) => PLACE_NAME[v.target]))].sort().join(" and ");
  alerter.summary({
    title:
      (failures === 0
        ? `Moved ${decided.length} Deployment(s) off ${where} to ${targets}`
        : `${failures} of ${decided.length} Deployment(s) failed to move off ${where} to ${targets}`) +
      (late > 0 ? `; ${late} Ready after the node's deadline` : ""),
    ok: failures === 0 && late === 0,
    lines: decided.map(({ ref, target, result, timing }) =>
      result.ok
        ? `${keyOf(ref)}: healthy on ${PLACE_NAME[target]} after ${Math.round(result.seconds)}s` +
          (timing === undefined ? "" : `; ${describeTiming(timing)}`)
        : `${keyOf(ref)}: failed: ${result.why}`,
    ),
    eventId,
  });
}
