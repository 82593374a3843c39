// The watcher's Prometheus metrics, served on its health port: one registry, the process's default series,
// and each area's own series (declared in its metrics.ts with the label values it increments).
import { Registry, collectDefaultMetrics } from "prom-client";
import { alertsMetrics } from "./alerts/metrics.ts";
import { clusterMetrics } from "./cluster/metrics.ts";
import { leaseMetrics } from "./lease/metrics.ts";
import { metricFactory } from "./metricFactory.ts";
import { migrationMetrics } from "./migration/metrics.ts";
import { movesMetrics } from "./moves/metrics.ts";
import { sqsMetrics } from "./sqs/metrics.ts";

export function createWatcherMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m = metricFactory(registry);
  return {
    registry,
    ...sqsMetrics(m),
    ...migrationMetrics(m),
    ...movesMetrics(m),
    ...alertsMetrics(m),
    ...leaseMetrics(m),
    ...clusterMetrics(m),
  };
}

export type WatcherMetrics = ReturnType<typeof createWatcherMetrics>;
