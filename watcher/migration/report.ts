// How the moves of one interruption are told: metrics, an Event on each Deployment, and one alert for the
// interruption (not one per Deployment), naming what moved where and what was left, and why.
import type { V1Deployment } from "@kubernetes/client-node";
import { EventReason } from "../../core/contract.ts";
import type { Logger } from "../../core/log.ts";
import type { Alerter } from "../alerts/alerter.ts";
import type { EventRecorder } from "../alerts/kubeEvents.ts";
import { keyOf, refOf, type DeploymentRef } from "../deployments.ts";
import type { WatcherMetrics } from "../metrics.ts";
import type { Ec2Event } from "../sqs/ec2Event.ts";
import { describeNotFargate, interruptedNodeValue, type NotFargate, type Plan } from "./plan.ts";

export type FlipOutcome =
  | { outcome: "flipped"; deployment: V1Deployment; to: "fargate" }
  | { outcome: "flipped"; deployment: V1Deployment; to: "on-demand"; because: NotFargate }
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
export function reportFlips(
  deps: ReportDeps,
  event: Ec2Event,
  node: string,
  outcomes: FlipOutcome[],
  log: Logger,
  budget?: string,
): void {
  const { metrics, recorder, alerter, dryRun } = deps;
  const told: Told = { deployments: [], onDemand: [], skipped: [] };
  const cause = `${event.detailType} for node ${interruptedNodeValue(node, event.instanceId)}`;
  for (const o of outcomes) {
    const ref = refOf(o.deployment);
    if (o.outcome === "flipped") {
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
    reason:
      because.why === "over-budget" ? EventReason.fargateBudgetExceeded : EventReason.fargateIncompatible,
    action: "Migrate",
    note: `Not moved to Fargate (${why}); ${what}`,
  });
}

/** A rebalance recommendation with `REBALANCE_ACTION=alert`: Events and one alert, nothing moved. */
export function reportRebalance(
  deps: ReportDeps,
  event: Ec2Event,
  node: string,
  deployments: V1Deployment[],
  log: Logger,
): void {
  const { metrics, recorder, alerter, dryRun } = deps;
  const why = "rebalance recommendation: alert only (REBALANCE_ACTION=alert)";
  log.info({ deployments: deployments.map((d) => keyOf(refOf(d))) }, "rebalance recommended; alerting only");
  metrics.deploymentsSkipped.inc({ why: "rebalance-alert" }, deployments.length);
  for (const d of deployments) {
    recorder.record(d, {
      type: "Normal",
      reason: EventReason.rebalanceRecommended,
      action: "Alert",
      note: `EC2 recommends rebalancing node ${interruptedNodeValue(node, event.instanceId)}; not moved (REBALANCE_ACTION=alert)`,
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
