// Repairs opted-in Deployments whose template does not match their `compute` annotation: what happens
// when the webhook (failurePolicy Ignore) was unavailable as the annotation changed. A change the webhook
// did not see also gets the bookkeeping it would have written (the compute label, `changed-at`, so the
// recovery cooldown starts with the repair that really moves the pods, and `reason=manual`: a change the
// orchestrator did not make is a person's). Except one the webhook would have refused: an apply that moved
// back to spot a Deployment the orchestrator keeps off it (rule apply-never-undoes-a-move) is undone, the
// stint restored.
import type { V1Deployment } from "@kubernetes/client-node";
import {
  APPLY_RULE,
  applierOfStoredCompute,
  describeApplier,
  unseenMoveToSpot,
  type Applier,
  type Hold,
} from "../../core/applyRule.ts";
import { Annotation, COMPUTE_LABEL, EventReason, PLACE_NAME, requestedCompute } from "../../core/contract.ts";
import type { Config } from "../../core/config.ts";
import type { Logger } from "../../core/log.ts";
import { isStashed } from "../../core/moveStrategy.ts";
import { isPlaced, place } from "../../core/placement.ts";
import { rfc3339 } from "../../core/time.ts";
import type { EventRecorder } from "../alerts/kubeEvents.ts";
import { FIELD_MANAGER, isConflict, refOf, type DeploymentPatch, type Deployments } from "./deployments.ts";
import type { WatcherMetrics } from "../metrics.ts";
import { restorePatch, surgePatch } from "./patches.ts";
import { Periodic } from "../../core/periodic.ts";
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
    // the webhook did not see this change of compute, which the orchestrator's own moves label: record it
    // as the webhook would have, a person's
    metadata.labels = { ...metadata.labels, [COMPUTE_LABEL]: target };
    metadata.annotations = {
      ...metadata.annotations,
      [Annotation.changedAt]: rfc3339(now),
      [Annotation.reason]: "manual",
    };
  }
  return repaired;
}

/** An apply's move back to spot that the webhook did not see, and the Deployment with its stint restored. */
export interface ApplyRevert {
  hold: Hold;
  applier: Applier;
  restored: V1Deployment;
}

/**
 * The stint an apply undid while the webhook was down, restored: `compute` back where the orchestrator keeps
 * the Deployment, the template placed there, rolling with the surge a move rolls with. Undefined when
 * nothing was undone, or a person moved it (`kubectl annotate`, `kubectl edit`): that is honoured.
 */
export function revertOf(deployment: V1Deployment, config: Pick<Config, "compute">): ApplyRevert | undefined {
  const hold = unseenMoveToSpot(deployment);
  if (hold === undefined) return undefined;
  const applier = applierOfStoredCompute(deployment, FIELD_MANAGER);
  if (applier === undefined) return undefined;
  const surge = surgePatch(deployment);
  const annotations = { ...surge.annotations, [Annotation.compute]: hold.compute };
  const withCompute = withPatch(deployment, { ...surge, annotations });
  return { hold, applier, restored: place(withCompute, hold.compute, config.compute) };
}

/** A copy of `deployment` with the patch's annotations and strategy in it. */
function withPatch(deployment: V1Deployment, patch: DeploymentPatch): V1Deployment {
  const annotations = { ...deployment.metadata?.annotations };
  for (const [key, value] of Object.entries(patch.annotations ?? {})) {
    if (value === null) delete annotations[key];
    else annotations[key] = value;
  }
  const spec =
    deployment.spec && patch.strategy ? { ...deployment.spec, strategy: patch.strategy } : deployment.spec;
  return { ...deployment, metadata: { ...deployment.metadata, annotations }, ...(spec ? { spec } : {}) };
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
      const revert = revertOf(deployment, config);
      if (revert !== undefined) {
        if (await this.restoreStint(deployment, revert)) repaired++;
        continue;
      }
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

  /** Undoes an apply's move back to spot (see revertOf) and tells of it; true if it did (or would, in dry run). */
  private async restoreStint(deployment: V1Deployment, revert: ApplyRevert): Promise<boolean> {
    const { deployments, config, log, metrics, recorder } = this.deps;
    const { hold, applier } = revert;
    const what = deployment.metadata?.annotations?.[Annotation.compute] === undefined ? "removal" : "spot";
    const dlog = log.child({
      ...refOf(deployment),
      compute: hold.compute,
      reason: hold.reason,
      applier: applier.manager,
      how: applier.how,
    });
    if (config.migration.dryRun) {
      dlog.info("dry run: would restore a stint an apply undid while the webhook was down");
      return true;
    }
    try {
      const stored = await deployments.replace(deployment, revert.restored);
      metrics.applyReverts.inc({ compute: hold.compute });
      dlog.warn(
        `an apply moved the Deployment back to spot while the webhook was down; kept on ${PLACE_NAME[hold.compute]} (rule ${APPLY_RULE})`,
      );
      recorder.record(stored, {
        type: "Warning",
        reason: EventReason.applyReverted,
        action: "Restore",
        note: applyRevertedNote(deployment.metadata?.name ?? "", revert, what),
      });
      return true;
    } catch (err) {
      if (isConflict(err)) dlog.debug("changed while restoring; next pass");
      else dlog.error({ err }, "restoring the Deployment's stint failed");
      return false;
    }
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

/** What the Event on a Deployment says of an apply undone: who, what, that it is restored, how to move it. */
export function applyRevertedNote(name: string, revert: ApplyRevert, what: "spot" | "removal"): string {
  const { hold, applier } = revert;
  const change =
    what === "spot" ? `set ${Annotation.compute}=spot` : `removed ${Annotation.compute} (absent means spot)`;
  return (
    `A ${describeApplier(applier)} ${change} while the webhook was unavailable, moving the Deployment back to ` +
    `spot; the orchestrator keeps it on ${PLACE_NAME[hold.compute]} (reason ${hold.reason}), so ` +
    `${Annotation.compute}=${hold.compute} and its placement are restored (rule ${APPLY_RULE}). Recovery ` +
    `returns it to spot; to move it there now, kubectl annotate deployment ${name} ` +
    `${Annotation.compute}=spot --overwrite`
  );
}
