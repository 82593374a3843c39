// What an interruption does to one affected Deployment: pure rules over the Deployment as stored, the
// budget's verdict on it and the fallback setting.
import type { V1Deployment } from "@kubernetes/client-node";
import {
  Annotation,
  isOffSpot,
  requestedCompute,
  type OffSpot,
  type RolloutState,
} from "../../core/contract.ts";
import { fargateIncompatibilities } from "../../core/placement.ts";
import type { DeploymentPatch } from "../moves/deployments.ts";
import { movePatch, type WriteContext } from "../moves/patches.ts";
import { rfc3339 } from "../../core/time.ts";
import { deadlineOf, type InterruptionEvent } from "../sqs/interruptionEvent.ts";

/** Why a Deployment does not go to Fargate. */
export type NotFargate =
  | { why: "fargate-incompatible"; reasons: string[] }
  | { why: "over-budget"; detail: string }
  /** Its pods are not expected Ready on Fargate before they must leave the node (forecast.ts). */
  | { why: "too-late"; detail: string };

export type Plan =
  | { action: "move"; to: "fargate" }
  | { action: "move"; to: "on-demand"; because: NotFargate }
  | { action: "skip"; why: "already-moved"; compute: OffSpot }
  | { action: "skip"; why: "not-fargate"; because: NotFargate };

export type Fallback = "none" | "on-demand";

/** The `interrupted-node` annotation's value: `<node> (<instance-id>)`. */
export function interruptedNodeValue(node: string, instanceId: string): string {
  return `${node} (${instanceId})`;
}

/**
 * `notFargate`: why the Deployment does not go to Fargate though it could run there (it does not fit the
 * budget, or cannot be Ready there in time), when it does not. What cannot go to
 * Fargate goes to on-demand nodes with the fallback on, and stays where it is otherwise.
 */
export function planFor(
  deployment: V1Deployment,
  fallback: Fallback,
  notFargate?: Exclude<NotFargate, { why: "fargate-incompatible" }>,
): Plan {
  const compute = requestedCompute(deployment);
  if (isOffSpot(compute)) return { action: "skip", why: "already-moved", compute };
  const reasons = fargateIncompatibilities(deployment.spec?.template?.spec);
  const because: NotFargate | undefined =
    reasons.length > 0 ? { why: "fargate-incompatible", reasons } : notFargate;
  if (because === undefined) return { action: "move", to: "fargate" };
  if (fallback === "on-demand") return { action: "move", to: "on-demand", because };
  return { action: "skip", why: "not-fargate", because };
}

/** The move off spot for an interruption of `node`, with the event's time and the node's deadline. */
export function migrationPatch(
  current: V1Deployment,
  to: OffSpot,
  event: InterruptionEvent,
  node: string,
  context: WriteContext,
): DeploymentPatch {
  return movePatch(current, to, event.kind, context, {
    [Annotation.interruptedNode]: interruptedNodeValue(node, event.instanceId),
    [Annotation.rollout]: "progressing" satisfies RolloutState,
    [Annotation.interruptedAt]: rfc3339(event.time),
    [Annotation.deadline]: rfc3339(deadlineOf(event)),
  });
}

/** How a reason not to go to Fargate reads in Events and alerts. */
export function describeNotFargate(because: NotFargate): string {
  return because.why === "fargate-incompatible"
    ? `cannot run on Fargate: ${because.reasons.join("; ")}`
    : because.detail;
}
