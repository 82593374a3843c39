// What telling people counts: Slack messages, and whether the leader can read its queue.
import type { MetricFactory } from "../metricFactory.ts";

export function alertsMetrics(m: MetricFactory) {
  return {
    alerts: m.counter(
      "alerts_total",
      "Slack messages by outcome (sent, failed, held back by the per-minute limit for a digest, dropped)",
      { result: ["sent", "failed", "held", "dropped"] },
    ),
    queueUnreachable: m.gauge(
      "queue_unreachable",
      "1 while the leader cannot read its SQS queue (receives failing for longer than aws.queue_unreachable_after)",
    ),
  };
}
