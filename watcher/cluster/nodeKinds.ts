// What kind of capacity a node is, by the labels EKS and Karpenter put on it.
import type { V1Node } from "@kubernetes/client-node";
import { NodeLabel, type Compute } from "../../core/contract.ts";

export function isSpotNode(node: V1Node): boolean {
  const labels = node.metadata?.labels ?? {};
  return labels[NodeLabel.capacityType] === "SPOT" || labels[NodeLabel.karpenterCapacityType] === "spot";
}

export function isFargateNode(node: V1Node): boolean {
  return node.metadata?.labels?.[NodeLabel.computeType] === "fargate";
}

/**
 * Whether a pod on `node` has arrived where a move to `target` sends it. On Fargate: a Fargate node. On
 * on-demand: an EC2 node that is not spot (the configured node selector says which). Back on spot: anywhere
 * off Fargate, because the restored placement decides where; a Deployment pinned to spot (node selector or
 * affinity on the capacity type) can only land on spot, one that is not may land on on-demand nodes too,
 * and that is its placement restored.
 */
export function arrivedOn(node: V1Node, target: Compute): boolean {
  if (target === "fargate") return isFargateNode(node);
  if (target === "on-demand") return !isFargateNode(node) && !isSpotNode(node);
  return !isFargateNode(node);
}
