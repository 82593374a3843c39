import { describe, expect, it } from "vitest";
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation } from "../core/contract.ts";
import { loadConfig } from "../core/config.ts";
import { place } from "../core/placement.ts";
import { repairOf } from "./drift.ts";

const config = loadConfig({ env: {} });

function deployment(compute?: string): V1Deployment {
  return {
    metadata: {
      name: "web",
      namespace: "a",
      annotations: { [Annotation.enabled]: "true", ...(compute ? { [Annotation.compute]: compute } : {}) },
    },
    spec: {
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: {
          containers: [{ name: "app", image: "nginx" }],
          nodeSelector: { "eks.amazonaws.com/capacityType": "SPOT" },
        },
      },
    },
  };
}

describe("repairOf", () => {
  it("leaves a spot Deployment that was never moved alone", () => {
    expect(repairOf(deployment(), config)).toBeUndefined();
    expect(repairOf(deployment("spot"), config)).toBeUndefined();
  });

  it("places a fargate Deployment whose template is still on spot", () => {
    const drifted = deployment("fargate");
    expect(repairOf(drifted, config)).toEqual(place(drifted, "fargate", config.compute));
  });

  it("leaves a placed fargate Deployment alone", () => {
    expect(repairOf(place(deployment("fargate"), "fargate", config.compute), config)).toBeUndefined();
  });

  it("moves a template back when compute returned to spot without the webhook", () => {
    const onFargate = place(deployment("fargate"), "fargate", config.compute);
    onFargate.metadata!.annotations![Annotation.compute] = "spot";
    const fixed = repairOf(onFargate, config);
    expect(fixed?.spec?.template?.spec?.nodeSelector).toEqual({ "eks.amazonaws.com/capacityType": "SPOT" });
  });

  it("ignores an invalid compute value", () => {
    expect(repairOf(deployment("gpu"), config)).toBeUndefined();
  });
});
