// How the flips of one interruption are told: metrics, an Event on each Deployment, and one alert for the
// interruption (not one per Deployment).
import type { V1Deployment } from "@kubernetes/client-node";
import { EventReason } from "../../core/contract.ts";
import type { Logger } from "../../core/log.ts";
import type { Alerter } from "../alerts/alerter.ts";
import type { EventReasonValue, EventRecorder } from "../alerts/kubeEvents.ts";
import { keyOf, refOf, type DeploymentRef } from "../deployments.ts";
import type { WatcherMetrics } from "../metrics.ts";
import { describeEvent, type Ec2Event } from "../sqs/ec2Event.ts";
import { interruptedNodeValue, type Plan } from "./plan.ts";

export type FlipOutcome =
  | { outcome: "flipped"; deployment: V1Deployment }
  | { outcome: "skipped"; deployment: V1Deployment; plan: Exclude<Plan, { action: "flip" }> }
  | { outcome: "impossible"; deployment: V1Deployment; why: string }
  | { outcome: "failed"; deployment: V1Deployment; error: Error };

export interface ReportDeps {
  metrics: WatcherMetrics;
  recorder: Pick<EventRecorder, "record">;
  alerter: Alerter;
  dryRun: boolean;
}

export function reportFlips(
  deps: ReportDeps,
  event: Ec2Event,
  node: string,
  outcomes: FlipOutcome[],
  log: Logger,
): void {
  const { metrics, recorder, alerter, dryRun } = deps;
  const moved: DeploymentRef[] = [];
  const skipped: { deployment: DeploymentRef; why: string }[] = [];
  for (const o of outcomes) {
    const ref = refOf(o.deployment);
    if (o.outcome === "flipped") {
      moved.push(ref);
      if (dryRun) metrics.deploymentsSkipped.inc({ why: "dry-run" });
      else metrics.deploymentsFlipped.inc({ compute: "fargate", reason: event.kind });
      recorder.record(o.deployment, {
        type: "Normal",
        reason: EventReason.migratingToFargate,
        action: "Migrate",
        note: `${describeEvent(event)} for node ${interruptedNodeValue(node, event.instanceId)}: moving to Fargate`,
      });
    } else if (o.outcome === "skipped" && o.plan.why === "fargate-incompatible") {
      const reasons = o.plan.reasons.join("; ");
      metrics.deploymentsSkipped.inc({ why: "fargate-incompatible" });
      skipped.push({ deployment: ref, why: `cannot run on Fargate: ${reasons}` });
      log.warn({ ...ref, reasons: o.plan.reasons }, "Deployment cannot run on Fargate; left on its node");
      recorder.record(o.deployment, {
        type: "Warning",
        reason: EventReason.fargateIncompatible,
        action: "Migrate",
        note: `Not moved to Fargate after ${describeEvent(event)} for node ${node}: ${reasons}`,
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
    alerter.interruption({ event, node, deployments: moved, skipped, dryRun });
  }
}

/** The Event reason and skip label of each kind that may only alert (see eventAction.ts). */
const ALERT_ONLY: Partial<Record<Ec2Event["kind"], { reason: EventReasonValue; skipped: string }>> = {
  "rebalance-recommendation": { reason: EventReason.rebalanceRecommended, skipped: "rebalance-alert" },
  "scheduled-change": { reason: EventReason.scheduledChangeAnnounced, skipped: "scheduled-change-alert" },
  "asg-termination": { reason: EventReason.instanceTerminating, skipped: "asg-termination-alert" },
};
const OTHER_ALERT = { reason: EventReason.instanceTerminating, skipped: "alert" };

/** An event that only alerts (`why`, e.g. REBALANCE_ACTION=alert): Events and one alert, nothing moved. */
export function reportAlertOnly(
  deps: ReportDeps,
  event: Ec2Event,
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
