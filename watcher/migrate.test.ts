import { describe, expect, it } from "vitest";
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation } from "../core/contract.ts";
import { interruptedNodeValue, planFor } from "./migrate.ts";

const ours = interruptedNodeValue("ip-10-0-1-2.eu-west-1.compute.internal", "i-0abc");

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
    expect(planFor(deployment({}), ours)).toEqual({ action: "flip" });
    expect(planFor(deployment({ [Annotation.compute]: "spot" }), ours)).toEqual({ action: "flip" });
  });

  it("leaves a Deployment already on fargate alone, resuming only its own unfinished move", () => {
    const fargate = { [Annotation.compute]: "fargate" };
    expect(planFor(deployment(fargate), ours)).toEqual({
      action: "skip",
      why: "already-fargate",
      resume: false,
    });
    expect(
      planFor(
        deployment({
          ...fargate,
          [Annotation.interruptedNode]: "other (i-1)",
          [Annotation.rollout]: "progressing",
        }),
        ours,
      ),
    ).toMatchObject({ resume: false });
    expect(
      planFor(
        deployment({ ...fargate, [Annotation.interruptedNode]: ours, [Annotation.rollout]: "progressing" }),
        ours,
      ),
    ).toMatchObject({ resume: true });
    expect(
      planFor(
        deployment({ ...fargate, [Annotation.interruptedNode]: ours, [Annotation.rollout]: "healthy" }),
        ours,
      ),
    ).toMatchObject({ resume: false });
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
    expect(planFor(d, ours)).toEqual({
      action: "skip",
      why: "fargate-incompatible",
      reasons: ["hostNetwork is not supported on Fargate", 'container "app" is privileged'],
    });
  });
});
