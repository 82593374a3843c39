// When a Deployment on Fargate or on-demand nodes may next try to go back to spot: pure rules over its annotations, the one
// computation behind the recovery loop, its RecoveryRolledBack message and `spot-orchestrator status`.
import type { V1Deployment } from "@kubernetes/client-node";
import { backoff } from "../../core/backoff.ts";
import { Annotation, isOffSpot, requestedCompute, type OffSpot } from "../../core/contract.ts";
import { formatDuration } from "../../core/duration.ts";
import { parseTime, rfc3339 } from "../../core/time.ts";
import { failedRecoveries } from "../moves/patches.ts";

export interface RecoveryTiming {
  cooldown: number;
  backoffBase: number;
  maxBackoff: number;
}

/** Wait after `failures` consecutive failed recoveries: base × 2^(failures-1), capped; none before the first. */
export function recoveryBackoff(failures: number, timing: RecoveryTiming): number {
  return backoff(failures, timing.backoffBase, timing.maxBackoff);
}

export type RecoveryState =
  | {
      eligible: false;
      why: string;
      /** The move to Fargate has no recorded time: the watcher records one, and the cooldown starts then. */
      unrecordedMove?: true;
    }
  | { eligible: true; notBefore: number; failures: number };

export function unrecordedMove(compute: OffSpot): string {
  return `the time of the move to ${compute} is not recorded (changed-at); the cooldown starts once it is`;
}

/**
 * Whether recovery applies to an opted-in Deployment at all, and the earliest time it may run: the later
 * of the cooldown since the last compute change and the backoff since the start of the last attempt.
 * A missing time never counts as long ago.
 */
export function recoveryState(deployment: V1Deployment, timing: RecoveryTiming): RecoveryState {
  const annotations = deployment.metadata?.annotations ?? {};
  const compute = requestedCompute(deployment);
  if (!isOffSpot(compute)) return { eligible: false, why: "not on fargate or on-demand" };
  if (annotations[Annotation.reason] === "manual")
    return { eligible: false, why: `moved to ${compute} by a person (reason=manual)` };
  if (annotations[Annotation.rollout] === "progressing")
    return { eligible: false, why: `the move to ${compute} is still in progress` };
  const changedAt = parseTime(annotations[Annotation.changedAt]);
  if (changedAt === undefined) return { eligible: false, why: unrecordedMove(compute), unrecordedMove: true };
  const failures = failedRecoveries(deployment);
  const lastAttempt = parseTime(annotations[Annotation.lastRecoveryAt]) ?? changedAt;
  const afterCooldown = changedAt + timing.cooldown;
  const afterBackoff = failures > 0 ? lastAttempt + recoveryBackoff(failures, timing) : 0;
  return { eligible: true, notBefore: Math.max(afterCooldown, afterBackoff), failures };
}

/** The next recovery attempt in words: `in 45m (at 2026-11-30T11:33:00Z)`, `due`, or why there is none. */
export function nextAttempt(state: RecoveryState, now: number): string {
  if (!state.eligible) return `none (${state.why})`;
  if (state.notBefore <= now) return "due (once spot has room)";
  return `in ${formatDuration(state.notBefore - now)} (at ${rfc3339(new Date(state.notBefore))})`;
}

/** When a Deployment whose recovery just failed may try again, from what was just stored on it. */
export function nextRecoveryOf(timing: RecoveryTiming): (stored: V1Deployment, now: Date) => string {
  return (stored, now) => nextAttempt(recoveryState(stored, timing), now.getTime());
}
