// The SQS intake's series and the label values it counts.
import type { MetricFactory } from "../metricFactory.ts";
import { EVENT_KINDS } from "./interruptionEvent.ts";

/** Outcome labels of `events_received_total{result}` besides the PermanentError kinds. */
export const RESULTS = {
  handled: "handled",
  duplicate: "duplicate",
  retry: "retry",
  error: "error",
  givenUp: "given-up",
} as const;

export const SQS_OPERATIONS = ["receive", "delete", "change-visibility", "get-queue-attributes"] as const;

export function sqsMetrics(m: MetricFactory) {
  return {
    eventsReceived: m.counter("events_received_total", "SQS messages received, by event type and outcome", {
      type: EVENT_KINDS,
      // the outcomes alerts watch; the others start with their first message
      result: [RESULTS.error, RESULTS.givenUp],
    }),
    sqsErrors: m.counter("sqs_errors_total", "Failed SQS calls by operation", { operation: SQS_OPERATIONS }),
  };
}
