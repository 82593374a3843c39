// Repairs opted-in Deployments whose template does not match their `compute` annotation: what happens
// when the webhook (failurePolicy Ignore) was unavailable as the annotation changed. A change the webhook
// did not see also gets the bookkeeping it would have written (the compute label, and `changed-at`, so the
// recovery cooldown starts with the repair that really moves the pods).
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation, COMPUTE_LABEL, EventReason, requestedCompute } from "../core/contract.ts";
import type { Config } from "../core/config.ts";
import type { Logger } from "../core/log.ts";
import { isStashed } from "../core/moveStrategy.ts";
import { isPlaced, place } from "../core/placement.ts";
import { rfc3339 } from "../core/time.ts";
import type { EventRecorder } from "./alerts/kubeEvents.ts";
import { isConflict, refOf, type Deployments } from "./deployments.ts";
import type { WatcherMetrics } from "./metrics.ts";
import { restorePatch } from "./moves.ts";
import { Periodic } from "./periodic.ts";
import { rolloutStatus } from "./rollout.ts";

export interface DriftRepairDeps {
  deployments: Deployments;
  config: Pick<Config, "compute" | "migration">;
  log: Logger;
  metrics: WatcherMetrics;
  recorder: Pick<EventRecorder, "record">;
  now?: () => Date;
}

/** The repaired Deployment when its template drifted from its compute; undefined when it is in place. */
export function repairOf(
  deployment: V1Deployment,
  config: Pick<Config, "compute">,
  now: Date,
): V1Deployment | undefined {
  const target = requestedCompute(deployment);
  if (target === undefined || isPlaced(deployment, target, config.compute)) return undefined;
  const repaired = place(deployment, target, config.compute);
  const metadata = (repaired.metadata ??= {});
  if (metadata.labels?.[COMPUTE_LABEL] !== target) {
    // the webhook did not see this change of compute: record it as it would have
    metadata.labels = { ...metadata.labels, [COMPUTE_LABEL]: target };
    metadata.annotations = { ...metadata.annotations, [Annotation.changedAt]: rfc3339(now) };
  }
  return repaired;
}

export class DriftRepair {
  private readonly deps: DriftRepairDeps;
  private readonly loop: Periodic;

  constructor(deps: DriftRepairDeps) {
    this.deps = deps;
    this.loop = new Periodic(
      deps.config.migration.driftCheckInterval,
      () => this.runOnce(),
      deps.log.child({ loop: "drift" }),
    );
  }

  /** Runs a pass every `migration.drift_check_interval` (0: never) until stopped. */
  start(): void {
    if (this.deps.config.migration.driftCheckInterval > 0) this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass; returns how many Deployments were repaired (or would be, in dry run). */
  async runOnce(): Promise<number> {
    const { deployments, config, log, metrics, recorder } = this.deps;
    let repaired = 0;
    for (const deployment of await deployments.list()) {
      if (hasLeftoverSurge(deployment) && (await this.endSurge(deployment))) repaired++;
      const fixed = repairOf(deployment, config, this.deps.now?.() ?? new Date());
      if (fixed === undefined) continue;
      const dlog = log.child(refOf(deployment));
      const target = requestedCompute(deployment);
      if (config.migration.dryRun) {
        dlog.info({ compute: target }, "dry run: would repair placement");
        repaired++;
        continue;
      }
      try {
        const stored = await deployments.replace(deployment, fixed);
        repaired++;
        metrics.driftRepairs.inc();
        dlog.warn({ compute: target }, "template did not match its compute annotation; repaired");
        recorder.record(stored, {
          type: "Normal",
          reason: EventReason.placementRepaired,
          action: "Repair",
          note: `Pod template placement did not match compute=${target}; repaired`,
        });
      } catch (err) {
        // someone else wrote it in between: the next pass looks again
        if (isConflict(err)) dlog.debug("changed while repairing; next pass");
        else dlog.error({ err }, "placement repair failed");
      }
    }
    return repaired;
  }

  /** Puts back the Deployment's own strategy, which a move no longer rolling left stashed; true if it did. */
  private async endSurge(deployment: V1Deployment): Promise<boolean> {
    const { deployments, config, log, metrics, recorder } = this.deps;
    const dlog = log.child(refOf(deployment));
    if (config.migration.dryRun) {
      dlog.info("dry run: would put back the strategy a finished move left stashed");
      return true;
    }
    try {
      const stored = await deployments.patch(deployment, restorePatch(deployment));
      metrics.driftRepairs.inc();
      dlog.warn("a move no longer rolling left its surge; the Deployment's own strategy is back");
      recorder.record(stored, {
        type: "Normal",
        reason: EventReason.placementRepaired,
        action: "Repair",
        note: `The strategy of a move that has ended was still set; put back the Deployment's own from ${Annotation.strategy}`,
      });
      return true;
    } catch (err) {
      if (isConflict(err)) dlog.debug("changed while putting back its strategy; next pass");
      else dlog.error({ err }, "putting back the strategy failed");
      return false;
    }
  }
}

/**
 * A strategy stashed for a move that is over: not `progressing` (followed to a verdict, which puts it back)
 * and rolled out (a rollback left by a leader that stopped still rolls with its surge until then).
 */
export function hasLeftoverSurge(deployment: V1Deployment): boolean {
  if (!isStashed(deployment)) return false;
  if (deployment.metadata?.annotations?.[Annotation.rollout] === "progressing") return false;
  return rolloutStatus(deployment).done;
}
