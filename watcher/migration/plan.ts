// What an interruption does to one affected Deployment: pure rules over the Deployment as stored.
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation, requestedCompute, type RolloutState } from "../../core/contract.ts";
import { fargateIncompatibilities } from "../../core/placement.ts";
import type { MetadataPatch } from "../deployments.ts";
import { movePatch, type WriteContext } from "../moves.ts";
import type { Ec2Event } from "../sqs/ec2Event.ts";

export type Plan =
  | { action: "flip" }
  | { action: "skip"; why: "already-fargate" }
  | { action: "skip"; why: "fargate-incompatible"; reasons: string[] };

/** The `interrupted-node` annotation's value: `<node> (<instance-id>)`. */
export function interruptedNodeValue(node: string, instanceId: string): string {
  return `${node} (${instanceId})`;
}

export function planFor(deployment: V1Deployment): Plan {
  if (requestedCompute(deployment) === "fargate") return { action: "skip", why: "already-fargate" };
  const reasons = fargateIncompatibilities(deployment.spec?.template?.spec);
  if (reasons.length > 0) return { action: "skip", why: "fargate-incompatible", reasons };
  return { action: "flip" };
}

/** The flip to Fargate for an interruption of `node`. */
export function migrationPatch(event: Ec2Event, node: string, context: WriteContext): MetadataPatch {
  return movePatch("fargate", event.kind, context, {
    [Annotation.interruptedNode]: interruptedNodeValue(node, event.instanceId),
    [Annotation.rollout]: "progressing" satisfies RolloutState,
  });
}
