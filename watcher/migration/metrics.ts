// What taking in an interruption counts: the flips, what was left alone and why, the Fargate budget, and
// the Auto Scaling lifecycle actions completed.
import { COMPUTE_TYPES, isOffSpot } from "../../core/contract.ts";
import type { MetricFactory } from "../metricFactory.ts";

/** Why an affected Deployment was left alone (`deployments_skipped_total{why}`). */
export const SKIPPED_WHY = [
  "fargate-incompatible",
  "over-budget",
  "too-late",
  "impossible",
  "dry-run",
  "rebalance-alert",
  "scheduled-change-alert",
  "asg-termination-alert",
  ...COMPUTE_TYPES.filter(isOffSpot).map((compute) => `already-${compute}`),
] as const;

export const LIFECYCLE_RESULTS = ["completed", "expired", "failed"] as const;

export function migrationMetrics(m: MetricFactory) {
  return {
    deploymentsFlipped: m.counter(
      "deployments_flipped_total",
      "Deployments whose compute annotation was changed, by target compute and reason",
      { compute: [], reason: [] },
    ),
    deploymentsSkipped: m.counter("deployments_skipped_total", "Affected Deployments left alone, by why", {
      why: SKIPPED_WHY,
    }),
    eventToFlip: m.histogram(
      "event_to_flip_seconds",
      "Time from an event's arrival in the watcher to the last affected Deployment's flip being stored",
      [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    ),
    fargateBudgetExceeded: m.counter(
      "fargate_budget_exceeded_total",
      "Deployments an interruption did not move to Fargate because they did not fit the Fargate budget",
    ),
    fargateBudgetUsed: m.gauge(
      "fargate_budget_used",
      "Fargate use of the opted-in Deployments (vcpu at Fargate's pod sizes, pods), as last counted by the leader",
      ["resource"],
    ),
    fargateBudgetLimit: m.gauge(
      "fargate_budget_limit",
      "The Fargate budget (fargate.max_vcpu, fargate.max_pods); no series for a resource without a limit",
      ["resource"],
    ),
    lifecycleActions: m.counter(
      "lifecycle_actions_total",
      "Auto Scaling termination lifecycle actions by outcome (completed, expired, failed)",
      { result: LIFECYCLE_RESULTS },
    ),
  };
}
