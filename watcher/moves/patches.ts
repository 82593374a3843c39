// What the watcher writes on a Deployment when it moves it and when it records how a move ended: pure
// functions of the Deployment as stored, so every write decision is table-tested.
import type { V1Deployment } from "@kubernetes/client-node";
import {
  Annotation,
  COMPUTE_LABEL,
  isOffSpot,
  PLACE_NAME,
  requestedCompute,
  type Compute,
  type OffSpot,
  type Reason,
  type RolloutState,
} from "../../core/contract.ts";
import {
  isStashed,
  isSurge,
  keepsOwnStrategy,
  stashedStrategy,
  strategyStash,
  SURGE_STRATEGY,
} from "../../core/moveStrategy.ts";
import { parseTime, rfc3339 } from "../../core/time.ts";
import type { KeyPatch, DeploymentPatch } from "./deployments.ts";

/** When and as whom the watcher writes. */
export interface WriteContext {
  now: Date;
  /** The orchestrator's own username (what the webhook records as `changed-by` for its writes). */
  username: string;
}

/** How following a move ended. */
export type FollowResult =
  | { ok: true; seconds: number }
  | {
      ok: false;
      why: string;
      /** The Deployment's compute was changed again while the move was followed (e.g. an interruption). */
      superseded?: boolean;
      /** New pods stayed Pending past the pending timeout (`why` names the scheduler's reason). */
      pending?: boolean;
      /** The rollout was not done within its timeout (it may still finish: see FollowUps' late verdicts). */
      timedOut?: boolean;
    };

const MAX_WHY = 200;

/** A move off spot against its interruption's clock. */
export interface MoveTiming {
  /** From the event (its time at AWS) to the verdict. */
  sinceEvent: number;
  /** From the verdict to the node's deadline; negative once past it. */
  beforeDeadline: number;
}

/** Where a move off spot stands against its interruption's clock; undefined without one (a manual move). */
export function moveTiming(stored: V1Deployment, now: Date): MoveTiming | undefined {
  const annotations = stored.metadata?.annotations ?? {};
  const at = parseTime(annotations[Annotation.interruptedAt]);
  const deadline = parseTime(annotations[Annotation.deadline]);
  if (at === undefined || deadline === undefined) return undefined;
  return { sinceEvent: (now.getTime() - at) / 1000, beforeDeadline: (deadline - now.getTime()) / 1000 };
}

/** How a timing reads in Events, logs and alerts. */
export function describeTiming(timing: MoveTiming): string {
  const margin = Math.round(Math.abs(timing.beforeDeadline));
  const side = timing.beforeDeadline >= 0 ? "before" : "after";
  return `every replica Ready ${Math.round(timing.sinceEvent)}s after the event, ${margin}s ${side} the node's deadline`;
}

/**
 * A move of `current` to `to`: the switch, the reason, and the move's time and author, with the
 * Deployment's compute label, and the surge it rolls with. The webhook writes the same time, author and
 * label when it sees the change; the watcher writes them too, so a move made while the webhook is down
 * still starts the recovery cooldown.
 */
export function movePatch(
  current: V1Deployment,
  to: Compute,
  reason: Reason,
  context: WriteContext,
  annotations: KeyPatch = {},
): DeploymentPatch {
  const surge = surgePatch(current);
  return {
    annotations: {
      [Annotation.compute]: to,
      [Annotation.reason]: reason,
      [Annotation.changedAt]: rfc3339(context.now),
      [Annotation.changedBy]: context.username,
      ...surge.annotations,
      ...annotations,
    },
    labels: { [COMPUTE_LABEL]: to },
    ...(surge.strategy ? { strategy: surge.strategy } : {}),
  };
}

/**
 * The surge a move rolls with (core/moveStrategy.ts): the Deployment's own strategy stashed, unless a move
 * before this one (a rollback's recovery, say) stashed it already.
 */
export function surgePatch(current: V1Deployment): DeploymentPatch {
  const stashed = isStashed(current);
  if (!stashed && keepsOwnStrategy(current)) return {};
  const strategy = isSurge(current.spec?.strategy) ? {} : { strategy: SURGE_STRATEGY };
  if (stashed) return strategy;
  return { annotations: { [Annotation.strategy]: strategyStash(current.spec?.strategy) }, ...strategy };
}

/** The Deployment's own strategy back, as it was before the move, and its stash removed. */
export function restorePatch(current: V1Deployment): DeploymentPatch {
  if (!isStashed(current)) return {};
  const own = stashedStrategy(current);
  // an unreadable stash (edited by hand) cannot be put back: the strategy stays as it is
  return { annotations: { [Annotation.strategy]: null }, ...(own ? { strategy: own } : {}) };
}

/** `patch` with `restorePatch(current)` added: the verdict of a move ends its surge. */
function withRestore(current: V1Deployment, patch: DeploymentPatch): DeploymentPatch {
  const restore = restorePatch(current);
  return {
    ...patch,
    annotations: { ...patch.annotations, ...restore.annotations },
    ...(restore.strategy ? { strategy: restore.strategy } : {}),
  };
}

function failedRollout(why: string): RolloutState {
  return `failed: ${why.length <= MAX_WHY ? why : `${why.slice(0, MAX_WHY - 3)}...`}`;
}

export function failedRecoveries(deployment: V1Deployment): number {
  const value = deployment.metadata?.annotations?.[Annotation.failedRecoveryAttempts] ?? "0";
  return Number.parseInt(value, 10) || 0;
}

/** Where a failed recovery of `deployment` goes back to: where the recovery took it from. */
export function rollbackTarget(deployment: V1Deployment): OffSpot {
  const from = deployment.metadata?.annotations?.[Annotation.recoveringFrom];
  return from === "on-demand" || from === "fargate" ? from : "fargate";
}

/**
 * The verdict of a followed move to `target`, as a patch of the Deployment as stored now; undefined when
 * there is nothing to record (the Deployment has moved on).
 * - off spot (Fargate, on-demand): `rollout` says how it went, unless compute was changed again meanwhile;
 * - to spot (recovery): success clears the failed attempts; failure counts one more and, unless something
 *   else already moved it back (an interruption, whose reason stands), rolls back to where it came from.
 */
export function verdictPatch(
  current: V1Deployment,
  target: Compute,
  result: FollowResult,
  context: WriteContext,
): DeploymentPatch | undefined {
  const onTarget = requestedCompute(current) === target;
  if (isOffSpot(target)) {
    if (!onTarget || (!result.ok && result.superseded)) return undefined;
    if (current.metadata?.annotations?.[Annotation.reason] === "rollback") {
      // `rollout` still tells why the recovery failed, unless the rollback fails too
      const why = `rollback to ${PLACE_NAME[target]} failed: ${result.ok ? "" : result.why}`;
      return withRestore(
        current,
        result.ok ? {} : { annotations: { [Annotation.rollout]: failedRollout(why) } },
      );
    }
    const rollout = result.ok ? "healthy" : failedRollout(result.why);
    return withRestore(current, { annotations: { [Annotation.rollout]: rollout } });
  }
  const done = { [Annotation.recoveringFrom]: null };
  if (result.ok) {
    if (!onTarget) return undefined;
    return withRestore(current, {
      annotations: { [Annotation.rollout]: "healthy", [Annotation.failedRecoveryAttempts]: null, ...done },
    });
  }
  const attempts = { [Annotation.failedRecoveryAttempts]: String(failedRecoveries(current) + 1), ...done };
  if (!onTarget) return { annotations: attempts };
  // the rollback is a move of its own: it rolls with the surge the recovery stashed, and its verdict ends it
  return movePatch(current, rollbackTarget(current), "rollback", context, {
    ...attempts,
    [Annotation.rollout]: failedRollout(result.why),
  });
}

/** The move back to spot that a recovery attempt starts, remembering where it comes from for a rollback. */
export function recoveryPatch(current: V1Deployment, from: OffSpot, context: WriteContext): DeploymentPatch {
  return movePatch(current, "spot", "recovery", context, {
    [Annotation.lastRecoveryAt]: rfc3339(context.now),
    [Annotation.rollout]: "progressing" satisfies RolloutState,
    [Annotation.recoveringFrom]: from,
    // the interruption's clock stops with the move back
    [Annotation.interruptedAt]: null,
    [Annotation.deadline]: null,
  });
}
