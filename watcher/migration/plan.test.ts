import { describe, expect, it } from "vitest";
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation, COMPUTE_LABEL } from "../../core/contract.ts";
import type { Ec2Event } from "../sqs/ec2Event.ts";
import { interruptedNodeValue, migrationPatch, planFor } from "./plan.ts";

function deployment(
  annotations: Record<string, string>,
  spec: Partial<V1Deployment["spec"]> = {},
): V1Deployment {
  return {
    metadata: { name: "web", namespace: "a", annotations: { [Annotation.enabled]: "true", ...annotations } },
    spec: {
      selector: {},
      template: { spec: { containers: [{ name: "app", image: "nginx" }] } },
      ...spec,
    },
  };
}

describe("planFor", () => {
  it("flips a Deployment on spot (compute absent or spot)", () => {
    expect(planFor(deployment({}))).toEqual({ action: "flip" });
    expect(planFor(deployment({ [Annotation.compute]: "spot" }))).toEqual({ action: "flip" });
  });

  it("leaves a Deployment already on fargate alone", () => {
    expect(planFor(deployment({ [Annotation.compute]: "fargate" }))).toEqual({
      action: "skip",
      why: "already-fargate",
    });
  });

  it("skips a Fargate-incompatible Deployment with its reasons", () => {
    const d = deployment(
      {},
      {
        template: {
          spec: {
            hostNetwork: true,
            containers: [{ name: "app", securityContext: { privileged: true } }],
          },
        },
      },
    );
    expect(planFor(d)).toEqual({
      action: "skip",
      why: "fargate-incompatible",
      reasons: ["hostNetwork is not supported on Fargate", 'container "app" is privileged'],
    });
  });
});

describe("migrationPatch", () => {
  it("flips compute with the event's reason and node, and records the move's time and author itself", () => {
    const event = { kind: "spot-interruption", instanceId: "i-0123456789abcdef0" } as Ec2Event;
    const now = new Date("2026-11-30T10:00:00.999Z");
    expect(migrationPatch(event, "ip-10-0-1-2", { now, username: "system:serviceaccount:so:so" })).toEqual({
      annotations: {
        [Annotation.compute]: "fargate",
        [Annotation.reason]: "spot-interruption",
        [Annotation.changedAt]: "2026-11-30T10:00:00Z",
        [Annotation.changedBy]: "system:serviceaccount:so:so",
        [Annotation.interruptedNode]: interruptedNodeValue("ip-10-0-1-2", "i-0123456789abcdef0"),
        [Annotation.rollout]: "progressing",
      },
      labels: { [COMPUTE_LABEL]: "fargate" },
    });
  });
});
