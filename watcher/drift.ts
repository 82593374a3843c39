// Repairs opted-in Deployments whose template does not match their `compute` annotation — what happens
// when the webhook (failurePolicy Ignore) was unavailable as the annotation changed.
import type { V1Deployment } from "@kubernetes/client-node";
import { EventReason, requestedCompute } from "../core/contract.ts";
import type { Config } from "../core/config.ts";
import { patchDeploymentTo, statusOf, type Kube } from "../core/kube.ts";
import type { Logger } from "../core/log.ts";
import { isPlaced, place } from "../core/placement.ts";
import type { EventRecorder } from "./alerts/events.ts";
import { listOptedInDeployments } from "./cluster/optedIn.ts";
import type { Scope } from "./cluster/owners.ts";
import type { WatcherMetrics } from "./metrics.ts";
import { Periodic } from "./periodic.ts";

export interface DriftDeps {
  kube: Kube;
  config: Config;
  log: Logger;
  metrics: WatcherMetrics;
  events: EventRecorder;
}

export interface DriftChecker {
  /** One pass; returns how many Deployments were repaired (or would be, in dry run). */
  checkOnce(): Promise<number>;
  /** Runs a pass every `migration.driftCheckInterval` until stopped. */
  start(): void;
  stop(): Promise<void>;
}

/** The repaired Deployment when its template drifted from its compute; undefined when it is in place. */
export function repairOf(deployment: V1Deployment, config: Config): V1Deployment | undefined {
  const target = requestedCompute(deployment);
  if (target === undefined || isPlaced(deployment, target, config.compute)) return undefined;
  return place(deployment, target, config.compute);
}

export function createDriftChecker(deps: DriftDeps): DriftChecker {
  const { kube, config, log, metrics, events } = deps;
  const scope: Scope = {
    namespaces: config.kubernetes.namespaces,
    deploymentName: config.kubernetes.deploymentName,
  };

  async function checkOnce(): Promise<number> {
    const deployments = await listOptedInDeployments(kube, scope);
    let repaired = 0;
    for (const deployment of deployments) {
      const fixed = repairOf(deployment, config);
      if (fixed === undefined) continue;
      const ref = { namespace: deployment.metadata?.namespace ?? "", name: deployment.metadata?.name ?? "" };
      const dlog = log.child(ref);
      const target = requestedCompute(deployment);
      if (config.migration.dryRun) {
        dlog.info({ compute: target }, "dry run: would repair placement");
        repaired++;
        continue;
      }
      try {
        // plain JSON on both sides: the client's Date objects confuse the diff
        const stored = await patchDeploymentTo(kube, deployment, fixed);
        repaired++;
        metrics.driftRepairs.inc();
        dlog.warn({ compute: target }, "template did not match its compute annotation; repaired");
        void events.record(stored, {
          type: "Normal",
          reason: EventReason.placementRepaired,
          action: "Repair",
          note: `Pod template placement did not match compute=${target}; repaired`,
        });
      } catch (err) {
        // a conflict means someone else wrote it: the next pass looks again
        if ([409, 422].includes(statusOf(err) ?? 0)) dlog.debug("changed while repairing; next pass");
        else dlog.error({ err }, "placement repair failed");
      }
    }
    return repaired;
  }

  const loop = new Periodic(config.migration.driftCheckInterval, checkOnce, log.child({ loop: "drift" }));
  return {
    checkOnce,
    start() {
      if (config.migration.driftCheckInterval > 0) loop.start();
    },
    stop: () => loop.stop(),
  };
}
