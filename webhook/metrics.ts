// Prometheus metrics of the webhook process, on a registry of its own (served by health.ts).
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type Endpoint = "mutate" | "validate";
/** allowed | patched | denied | bad_request (4xx) | error (5xx) */
export type RequestResult = "allowed" | "patched" | "denied" | "bad_request" | "error";

export interface WebhookMetrics {
  registry: Registry;
  requests: Counter<"endpoint" | "result">;
  duration: Histogram<"endpoint">;
  patches: Counter<"compute">;
  denials: Counter<"cause">;
}

export function createMetrics(options: { processMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new Registry();
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry });
  return {
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
  };
}
