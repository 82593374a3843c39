// The opted-in Deployments as gauges, for dashboards and alerts: how many are on each compute, and since when
// each one off spot (on Fargate or on-demand) has been there. Set by the leader from every complete listing it
// makes anyway (term start, drift repair, recovery), cleared when its term ends so that a former leader
// reports nothing stale.
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation, COMPUTE_TYPES, isOffSpot, requestedCompute } from "../../core/contract.ts";
import { parseTime } from "../../core/time.ts";
import { keyOf, refOf, type Deployments } from "../moves/deployments.ts";
import type { WatcherMetrics } from "../metrics.ts";

export type InventoryMetrics = Pick<WatcherMetrics, "deployments" | "offSpotSince">;

/** Sets the gauges from a complete listing of the opted-in Deployments. */
export function recordInventory(metrics: InventoryMetrics, listed: readonly V1Deployment[]): void {
  clearInventory(metrics);
  for (const compute of COMPUTE_TYPES) metrics.deployments.set({ compute }, 0);
  for (const deployment of listed) {
    const compute = requestedCompute(deployment);
    if (compute === undefined) continue; // an invalid value: the webhook denies it, nothing places it
    metrics.deployments.inc({ compute });
    if (!isOffSpot(compute)) continue;
    const annotations = deployment.metadata?.annotations ?? {};
    // a move the webhook did not see has no time yet: the recovery pass records one
    const since = parseTime(annotations[Annotation.changedAt]);
    if (since === undefined) continue;
    const reason = annotations[Annotation.reason] ?? "";
    metrics.offSpotSince.set({ deployment: keyOf(refOf(deployment)), compute, reason }, since / 1000);
  }
}

export function clearInventory(metrics: InventoryMetrics): void {
  metrics.deployments.reset();
  metrics.offSpotSince.reset();
}

/** `deployments`, each of whose listings also sets the inventory gauges until `term` is aborted. */
export function withInventory(
  deployments: Deployments,
  metrics: InventoryMetrics,
  term: AbortSignal,
): Deployments {
  return {
    list: async () => {
      const listed = await deployments.list();
      if (!term.aborted) recordInventory(metrics, listed);
      return listed;
    },
    read: (ref) => deployments.read(ref),
    patch: (current, patch, options) => deployments.patch(current, patch, options),
    replace: (current, updated) => deployments.replace(current, updated),
  };
}
