// Leadership's series.
import type { MetricFactory } from "../metricFactory.ts";

export function leaseMetrics(m: MetricFactory) {
  return {
    isLeader: m.gauge(
      "is_leader",
      "1 while this replica leads: holds the leader Lease, or runs without leader election",
    ),
  };
}
