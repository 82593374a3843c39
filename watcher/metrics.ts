// The watcher's Prometheus metrics, served on its health port.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { COMPUTE_TYPES, isOffSpot } from "../core/contract.ts";
import { EVENT_KINDS } from "./sqs/interruptionEvent.ts";
import { RESULTS } from "./sqs/settle.ts";

/**
 * Label values the code uses, whose series start at 0 so that rate() and increase() see their first
 * increment (an alert on `increase(...) > 0` would otherwise miss the first failure of a process).
 */
const KNOWN = {
  rolloutResults: ["healthy", "failed"],
  recoveryResults: ["recovered", "rolled-back"],
  sqsOperations: ["receive", "delete", "change-visibility", "get-queue-attributes"],
  lifecycleResults: ["completed", "expired", "failed"],
  drainGuardResults: [
    "created",
    "released-verdict",
    "released-deadline",
    "released-leftover",
    "user-pdb",
    "too-late",
    "nothing-on-node",
    "failed",
  ],
  deadlineResults: ["met", "missed"],
  alertResults: ["sent", "failed", "dropped"],
  skippedWhy: [
    "fargate-incompatible",
    "over-budget",
    "impossible",
    "dry-run",
    "rebalance-alert",
    "scheduled-change-alert",
    "asg-termination-alert",
    ...COMPUTE_TYPES.filter(isOffSpot).map((compute) => `already-${compute}`),
  ],
} as const;

export function createWatcherMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name: `spot_orchestrator_${name}`, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, buckets: number[], labelNames: L[] = []) =>
    new Histogram<L>({ name: `spot_orchestrator_${name}`, help, buckets, labelNames, registers });
  const metrics = {
    registry,
    eventsReceived: counter("events_received_total", "SQS messages received, by event type and outcome", [
      "type",
      "result",
    ]),
    deploymentsFlipped: counter(
      "deployments_flipped_total",
      "Deployments whose compute annotation was changed, by target compute and reason",
      ["compute", "reason"],
    ),
    deploymentsSkipped: counter("deployments_skipped_total", "Affected Deployments left alone, by why", [
      "why",
    ]),
    eventToFlip: histogram(
      "event_to_flip_seconds",
      "Time from an event's arrival in the watcher to the last affected Deployment's flip being stored",
      [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    ),
    timeToHealthy: histogram(
      "time_to_healthy_seconds",
      "Time from a flip to the Deployment being healthy on its new compute",
      [5, 10, 20, 30, 45, 60, 90, 120, 180, 300],
      ["compute"],
    ),
    moveReady: histogram(
      "move_ready_seconds",
      "Time from an interruption event (its time at AWS) to the move's healthy verdict: every replica Ready off spot, by compute and reason",
      [15, 30, 45, 60, 75, 90, 105, 120, 150, 180, 240, 300],
      ["compute", "reason"],
    ),
    moveDeadline: counter(
      "move_deadline_total",
      "Moves off spot that were healthy before (met) or after (missed) their node's deadline, by compute and reason",
      ["compute", "reason", "result"],
    ),
    drainGuards: counter(
      "drain_guards_total",
      "Drain guards (a PodDisruptionBudget over a moving Deployment's pods) by what became of them",
      ["result"],
    ),
    rollouts: counter("rollouts_total", "Followed rollouts by target compute and outcome", [
      "compute",
      "result",
    ]),
    recoveries: counter("recoveries_total", "Recovery attempts to spot by outcome (recovered, rolled-back)", [
      "result",
    ]),
    driftRepairs: counter(
      "drift_repairs_total",
      "Deployments whose template was repaired to match their compute annotation",
    ),
    applyReverts: counter(
      "apply_guard_restored_total",
      "Deployments an apply moved back to spot while the webhook was down, kept by the orchestrator off " +
        "spot and restored there by the drift pass (rule apply-never-undoes-a-move), by compute",
      ["compute"],
    ),
    sqsErrors: counter("sqs_errors_total", "Failed SQS calls by operation", ["operation"]),
    alerts: counter("alerts_total", "Slack messages by outcome (sent, failed, dropped)", ["result"]),
    fargateBudgetExceeded: counter(
      "fargate_budget_exceeded_total",
      "Deployments an interruption did not move to Fargate because they did not fit the Fargate budget",
    ),
    fargateBudgetUsed: new Gauge({
      name: "spot_orchestrator_fargate_budget_used",
      help: "Fargate use of the opted-in Deployments (vcpu at Fargate's pod sizes, pods), as last counted by the leader",
      labelNames: ["resource"] as const,
      registers,
    }),
    fargateBudgetLimit: new Gauge({
      name: "spot_orchestrator_fargate_budget_limit",
      help: "The Fargate budget (fargate.max_vcpu, fargate.max_pods); no series for a resource without a limit",
      labelNames: ["resource"] as const,
      registers,
    }),
    isLeader: new Gauge({
      name: "spot_orchestrator_is_leader",
      help: "1 while this replica leads: holds the leader Lease, or runs without leader election",
      registers,
    }),
    queueUnreachable: new Gauge({
      name: "spot_orchestrator_queue_unreachable",
      help: "1 while the leader cannot read its SQS queue (receives failing for longer than aws.queue_unreachable_after)",
      registers,
    }),
    lifecycleActions: counter(
      "lifecycle_actions_total",
      "Auto Scaling termination lifecycle actions by outcome (completed, expired, failed)",
      ["result"],
    ),
    deployments: new Gauge({
      name: "spot_orchestrator_deployments",
      help: "Opted-in Deployments in the watched namespaces by compute, as the leader last listed them",
      labelNames: ["compute"],
      registers,
    }),
    offSpotSince: new Gauge({
      name: "spot_orchestrator_off_spot_since_timestamp_seconds",
      help:
        "Unix time each opted-in Deployment off spot (on Fargate or on-demand) moved there (its changed-at), " +
        "by Deployment (namespace/name), compute and reason, as the leader last listed them",
      labelNames: ["deployment", "compute", "reason"],
      registers,
    }),
  };
  for (const compute of COMPUTE_TYPES.filter(isOffSpot)) metrics.applyReverts.inc({ compute }, 0);
  for (const compute of COMPUTE_TYPES) {
    metrics.timeToHealthy.zero({ compute });
    for (const result of KNOWN.rolloutResults) metrics.rollouts.inc({ compute, result }, 0);
  }
  for (const type of EVENT_KINDS) {
    for (const result of [RESULTS.error, RESULTS.givenUp]) metrics.eventsReceived.inc({ type, result }, 0);
  }
  for (const result of KNOWN.recoveryResults) metrics.recoveries.inc({ result }, 0);
  for (const operation of KNOWN.sqsOperations) metrics.sqsErrors.inc({ operation }, 0);
  for (const result of KNOWN.alertResults) metrics.alerts.inc({ result }, 0);
  for (const why of KNOWN.skippedWhy) metrics.deploymentsSkipped.inc({ why }, 0);
  for (const result of KNOWN.lifecycleResults) metrics.lifecycleActions.inc({ result }, 0);
  for (const result of KNOWN.drainGuardResults) metrics.drainGuards.inc({ result }, 0);
  for (const compute of COMPUTE_TYPES.filter(isOffSpot)) {
    for (const result of KNOWN.deadlineResults)
      metrics.moveDeadline.inc({ compute, reason: "spot-interruption", result }, 0);
  }
  return metrics;
}

export type WatcherMetrics = ReturnType<typeof createWatcherMetrics>;
