// When a Deployment on Fargate may next try to go back to spot: pure rules over its annotations.
import type { V1Deployment } from "@kubernetes/client-node";
import { backoff } from "../core/backoff.ts";
import { Annotation, requestedCompute } from "../core/contract.ts";

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
  { eligible: false; why: string } | { eligible: true; notBefore: number; failures: number };

/**
 * Whether recovery applies to an opted-in Deployment at all, and the earliest time it may run:
 * the later of cooldown since the last compute change and backoff since the last attempt.
 */
export function recoveryState(deployment: V1Deployment, timing: RecoveryTiming): RecoveryState {
  const annotations = deployment.metadata?.annotations ?? {};
  if (requestedCompute(deployment) !== "fargate") return { eligible: false, why: "not on fargate" };
  if (annotations[Annotation.reason] === "manual")
    return { eligible: false, why: "moved to fargate by a person (reason=manual)" };
  if (annotations[Annotation.rollout] === "progressing")
    return { eligible: false, why: "the move to fargate is still in progress" };
  const failures = Number.parseInt(annotations[Annotation.failedRecoveryAttempts] ?? "0", 10) || 0;
  const changedAt = timeOf(annotations[Annotation.changedAt]);
  const lastAttempt = timeOf(annotations[Annotation.lastRecoveryAt]);
  const afterCooldown = changedAt + timing.cooldown;
  const afterBackoff = lastAttempt === 0 ? 0 : lastAttempt + recoveryBackoff(failures, timing);
  return { eligible: true, notBefore: Math.max(afterCooldown, afterBackoff), failures };
}

function timeOf(value: string | undefined): number {
  const ms = value === undefined ? NaN : Date.parse(value);
  return Number.isNaN(ms) ? 0 : ms;
}
