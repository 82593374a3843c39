// What the leader's listings of the opted-in Deployments show.
import type { MetricFactory } from "../metricFactory.ts";

export function clusterMetrics(m: MetricFactory) {
  return {
    deployments: m.gauge(
      "deployments",
      "Opted-in Deployments in the watched namespaces by compute, as the leader last listed them",
      ["compute"],
    ),
    offSpotSince: m.gauge(
      "off_spot_since_timestamp_seconds",
      "Unix time each opted-in Deployment off spot (on Fargate or on-demand) moved there (its changed-at), " +
        "by Deployment (namespace/name), compute and reason, as the leader last listed them",
      ["deployment", "compute", "reason"],
    ),
  };
}
