// Prometheus metrics of the webhook process, on a registry of its own (served by health.ts).
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { APPLY_GUARD_ACTIONS } from "./admission/applyGuard.ts";
import { createCertWatcherMetrics, type CertWatcherMetrics } from "./certWatcher.ts";

export const ENDPOINTS = ["mutate", "validate"] as const;
export type Endpoint = (typeof ENDPOINTS)[number];
/** allowed | patched | denied | bad_request (4xx) | error (5xx) */
export const REQUEST_RESULTS = ["allowed", "patched", "denied", "bad_request", "error"] as const;
export type RequestResult = (typeof REQUEST_RESULTS)[number];

export interface WebhookMetrics {
  registry: Registry;
  requests: Counter<"endpoint" | "result">;
  duration: Histogram<"endpoint">;
  patches: Counter<"compute">;
  denials: Counter<"cause">;
  applyGuard: Counter<"action">;
  /** Reads of the serving certificate and key, and those that failed (the certificate watcher's). */
  certificates: CertWatcherMetrics;
}

export function createMetrics(options: { processMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new Registry();
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry });
  const metrics: WebhookMetrics = {
    registry,
    requests: new Counter({
      name: "spot_orchestrator_webhook_requests_total",
      help: "Admission requests answered, by endpoint and result",
      labelNames: ["endpoint", "result"],
      registers: [registry],
    }),
    duration: new Histogram({
      name: "spot_orchestrator_webhook_request_duration_seconds",
      help: "Time from receiving an admission request to answering it",
      labelNames: ["endpoint"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    patches: new Counter({
      name: "spot_orchestrator_webhook_patches_total",
      help: "Mutations answered with a JSON patch, by the compute the Deployment was placed on",
      labelNames: ["compute"],
      registers: [registry],
    }),
    denials: new Counter({
      name: "spot_orchestrator_webhook_denials_total",
      help: "Validation denials, by cause",
      labelNames: ["cause"],
      registers: [registry],
    }),
    applyGuard: new Counter({
      name: "spot_orchestrator_webhook_apply_guard_total",
      help:
        "Applies the rule apply-never-undoes-a-move acted on: kept (an apply that would have moved a Deployment " +
        "the orchestrator keeps on Fargate or on-demand back to spot) or warned (an apply declaring compute: spot)",
      labelNames: ["action"],
      registers: [registry],
    }),
    certificates: createCertWatcherMetrics(registry),
  };
  // Series exist from the start at 0, so that rate() and increase() see their first increment.
  for (const endpoint of ENDPOINTS) {
    metrics.duration.zero({ endpoint });
    for (const result of REQUEST_RESULTS) metrics.requests.inc({ endpoint, result }, 0);
  }
  for (const action of APPLY_GUARD_ACTIONS) metrics.applyGuard.inc({ action }, 0);
  return metrics;
}
