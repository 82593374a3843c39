import { describe, expect, it } from "vitest";
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation } from "../core/contract.ts";
import { interruptedNodeValue, mapLimit, planFor } from "./migrate.ts";

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

describe("mapLimit", () => {
  it("keeps order and never runs more than the limit at once", async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, n));
      running--;
      return n * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });

  it("handles no items", async () => {
    expect(await mapLimit([], 3, async (n: number) => n)).toEqual([]);
  });
});
