// The watcher's Prometheus metrics, served on its health port.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function createWatcherMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    eventsReceived: new Counter({
      name: "spot_orchestrator_events_received_total",
      help: "SQS messages received, by event type and outcome",
      labelNames: ["type", "result"] as const,
      registers,
    }),
    deploymentsFlipped: new Counter({
      name: "spot_orchestrator_deployments_flipped_total",
      help: "Deployments whose compute annotation was changed, by target compute and reason",
      labelNames: ["compute", "reason"] as const,
      registers,
    }),
    deploymentsSkipped: new Counter({
      name: "spot_orchestrator_deployments_skipped_total",
      help: "Affected Deployments left alone, by why",
      labelNames: ["why"] as const,
      registers,
    }),
    eventToFlip: new Histogram({
      name: "spot_orchestrator_event_to_flip_seconds",
      help: "Time from an event's arrival in the watcher to the last affected Deployment's flip being stored",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    }),
    timeToHealthy: new Histogram({
      name: "spot_orchestrator_time_to_healthy_seconds",
      help: "Time from a flip to the Deployment being healthy on its new compute",
      labelNames: ["compute"] as const,
      buckets: [5, 10, 20, 30, 45, 60, 90, 120, 180, 300],
      registers,
    }),
    rollouts: new Counter({
      name: "spot_orchestrator_rollouts_total",
      help: "Followed rollouts by target compute and outcome",
      labelNames: ["compute", "result"] as const,
      registers,
    }),
    recoveries: new Counter({
      name: "spot_orchestrator_recoveries_total",
      help: "Recovery attempts to spot by outcome (recovered, rolled-back)",
      labelNames: ["result"] as const,
      registers,
    }),
    driftRepairs: new Counter({
      name: "spot_orchestrator_drift_repairs_total",
      help: "Deployments whose template was repaired to match their compute annotation",
      registers,
    }),
    sqsErrors: new Counter({
      name: "spot_orchestrator_sqs_errors_total",
      help: "Failed SQS calls by operation",
      labelNames: ["operation"] as const,
      registers,
    }),
    alerts: new Counter({
      name: "spot_orchestrator_alerts_total",
      help: "Slack messages by outcome (sent, failed, dropped)",
      labelNames: ["result"] as const,
      registers,
    }),
    isLeader: new Gauge({
      name: "spot_orchestrator_is_leader",
      help: "1 while this replica holds the leader Lease",
      registers,
    }),
  };
}

export type WatcherMetrics = ReturnType<typeof createWatcherMetrics>;
