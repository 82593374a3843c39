import type { V1Node } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { arrivedOn, isFargateNode, isSpotNode } from "./nodeKinds.ts";

const node = (labels: Record<string, string>): V1Node => ({ metadata: { name: "n", labels } });

const FARGATE = { "eks.amazonaws.com/compute-type": "fargate" };
const EKS_SPOT = { "eks.amazonaws.com/capacityType": "SPOT" };
const KARPENTER_SPOT = { "karpenter.sh/capacity-type": "spot" };
const ON_DEMAND = {
  "eks.amazonaws.com/capacityType": "ON_DEMAND",
  "karpenter.sh/capacity-type": "on-demand",
};

describe("node kinds", () => {
  it.each([
    [FARGATE, false, true],
    [EKS_SPOT, true, false],
    [KARPENTER_SPOT, true, false],
    [ON_DEMAND, false, false],
    [{}, false, false],
  ])("%j: spot %s, fargate %s", (labels, spot, fargate) => {
    expect(isSpotNode(node(labels))).toBe(spot);
    expect(isFargateNode(node(labels))).toBe(fargate);
  });
});

describe("arrivedOn", () => {
  it.each([
    [FARGATE, "fargate", true],
    [EKS_SPOT, "fargate", false],
    [ON_DEMAND, "fargate", false],
    [EKS_SPOT, "spot", true],
    [KARPENTER_SPOT, "spot", true],
    // a Deployment whose restored placement does not pin it to spot may land on on-demand capacity
    [ON_DEMAND, "spot", true],
    [{}, "spot", true],
    [FARGATE, "spot", false],
  ] as const)("%j counts for a move to %s: %s", (labels, target, expected) => {
    expect(arrivedOn(node(labels), target)).toBe(expected);
  });
});
