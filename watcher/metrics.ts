// The watcher's Prometheus metrics, served on its health port.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function createWatcherMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name: `spot_orchestrator_${name}`, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, buckets: number[], labelNames: L[] = []) =>
    new Histogram<L>({ name: `spot_orchestrator_${name}`, help, buckets, labelNames, registers });
  return {
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
  };
}

export type WatcherMetrics = ReturnType<typeof createWatcherMetrics>;
