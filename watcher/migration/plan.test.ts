import { describe, expect, it } from "vitest";
import type { V1Deployment, V1PodSpec } from "@kubernetes/client-node";
import { Annotation, COMPUTE_LABEL } from "../../core/contract.ts";
import { SURGE_STRATEGY } from "../../core/moveStrategy.ts";
import type { InterruptionEvent } from "../sqs/interruptionEvent.ts";
import { describeNotFargate, interruptedNodeValue, migrationPatch, planFor } from "./plan.ts";

function deployment(annotations: Record<string, string>, spec?: V1PodSpec): V1Deployment {
  return {
    metadata: { name: "web", namespace: "a", annotations: { [Annotation.enabled]: "true", ...annotations } },
    spec: {
      selector: {},
      template: { spec: spec ?? { containers: [{ name: "app", image: "nginx" }] } },
    },
  };
}

const incompatible = deployment(
  {},
  { hostNetwork: true, containers: [{ name: "app", securityContext: { privileged: true } }] },
);
const reasons = ["hostNetwork is not supported on Fargate", 'container "app" is privileged'];
const overBudget = "over the Fargate budget: needs 1 vCPU, 0 of 4 left (fargate.max_vcpu)";

describe("planFor", () => {
  it.each([
    [
      "spot (compute absent), no fallback",
      deployment({}),
      "none",
      undefined,
      { action: "move", to: "fargate" },
    ],
    [
      "spot, with the fallback on",
      deployment({ [Annotation.compute]: "spot" }),
      "on-demand",
      undefined,
      { action: "move", to: "fargate" },
    ],
    [
      "already on Fargate",
      deployment({ [Annotation.compute]: "fargate" }),
      "on-demand",
      undefined,
      { action: "skip", why: "already-moved", compute: "fargate" },
    ],
    [
      "already on on-demand nodes",
      deployment({ [Annotation.compute]: "on-demand" }),
      "on-demand",
      overBudget,
      { action: "skip", why: "already-moved", compute: "on-demand" },
    ],
    [
      "Fargate-incompatible, no fallback",
      incompatible,
      "none",
      undefined,
      { action: "skip", why: "not-fargate", because: { why: "fargate-incompatible", reasons } },
    ],
    [
      "Fargate-incompatible, with the fallback on",
      incompatible,
      "on-demand",
      undefined,
      { action: "move", to: "on-demand", because: { why: "fargate-incompatible", reasons } },
    ],
    [
      "over budget, no fallback",
      deployment({}),
      "none",
      overBudget,
      { action: "skip", why: "not-fargate", because: { why: "over-budget", detail: overBudget } },
    ],
    [
      "over budget, with the fallback on",
      deployment({}),
      "on-demand",
      overBudget,
      { action: "move", to: "on-demand", because: { why: "over-budget", detail: overBudget } },
    ],
  ] as const)("%s", (_name, d, fallback, over, plan) => {
    expect(
      planFor(d, fallback, over === undefined ? undefined : { why: "over-budget", detail: over }),
    ).toEqual(plan);
  });

  it("tells why not Fargate in words", () => {
    expect(describeNotFargate({ why: "fargate-incompatible", reasons })).toBe(
      'cannot run on Fargate: hostNetwork is not supported on Fargate; container "app" is privileged',
    );
    expect(describeNotFargate({ why: "over-budget", detail: overBudget })).toBe(overBudget);
  });
});

describe("migrationPatch", () => {
  it.each(["fargate", "on-demand"] as const)(
    "flips compute to %s with the event's reason and node, and records the move's time and author itself",
    (to) => {
      const event = {
        kind: "spot-interruption",
        instanceId: "i-0123456789abcdef0",
        time: new Date("2026-11-30T09:59:58Z"),
        deadline: new Date("2026-11-30T10:01:58Z"),
      } as InterruptionEvent;
      const now = new Date("2026-11-30T10:00:00.999Z");
      const own = { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } };
      const current = { metadata: { name: "web" }, spec: { strategy: own } } as V1Deployment;
      const context = { now, username: "system:serviceaccount:so:so" };
      expect(migrationPatch(current, to, event, "ip-10-0-1-2", context)).toEqual({
        annotations: {
          [Annotation.compute]: to,
          [Annotation.reason]: "spot-interruption",
          [Annotation.changedAt]: "2026-11-30T10:00:00Z",
          [Annotation.changedBy]: "system:serviceaccount:so:so",
          [Annotation.interruptedNode]: interruptedNodeValue("ip-10-0-1-2", "i-0123456789abcdef0"),
          [Annotation.rollout]: "progressing",
          [Annotation.strategy]: JSON.stringify(own),
          [Annotation.interruptedAt]: "2026-11-30T09:59:58Z",
          [Annotation.deadline]: "2026-11-30T10:01:58Z",
        },
        labels: { [COMPUTE_LABEL]: to },
        strategy: SURGE_STRATEGY,
      });
    },
  );
});
