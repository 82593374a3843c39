import { describe, expect, it } from "vitest";
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation, COMPUTE_LABEL } from "../core/contract.ts";
import { loadConfig } from "../core/config.ts";
import { place } from "../core/placement.ts";
import { hasLeftoverSurge, repairOf } from "./drift.ts";

const config = loadConfig({ env: {} });
const now = new Date("2026-11-30T10:00:00.250Z");

function deployment(compute?: string, label?: string): V1Deployment {
  return {
    metadata: {
      name: "web",
      namespace: "a",
      labels: label ? { [COMPUTE_LABEL]: label } : {},
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
    expect(repairOf(deployment(), config, now)).toBeUndefined();
    expect(repairOf(deployment("spot"), config, now)).toBeUndefined();
  });

  it("places a fargate Deployment whose template is still on spot", () => {
    const drifted = deployment("fargate", "fargate");
    expect(repairOf(drifted, config, now)).toEqual(place(drifted, "fargate", config.compute));
  });

  // The webhook was down when compute changed: it wrote neither the label nor changed-at, so without
  // them the recovery cooldown would count from nothing.
  it("records a change of compute the webhook did not see: the compute label and changed-at", () => {
    const unseen = deployment("fargate", "spot");
    const fixed = repairOf(unseen, config, now);
    expect(fixed?.spec).toEqual(place(unseen, "fargate", config.compute).spec);
    expect(fixed?.metadata?.labels?.[COMPUTE_LABEL]).toBe("fargate");
    expect(fixed?.metadata?.annotations?.[Annotation.changedAt]).toBe("2026-11-30T10:00:00Z");
  });

  it("leaves a placed fargate Deployment alone", () => {
    const placed = place(deployment("fargate", "fargate"), "fargate", config.compute);
    expect(repairOf(placed, config, now)).toBeUndefined();
  });

  it("moves a template back when compute returned to spot without the webhook", () => {
    const onFargate = place(deployment("fargate", "fargate"), "fargate", config.compute);
    onFargate.metadata!.annotations![Annotation.compute] = "spot";
    const fixed = repairOf(onFargate, config, now);
    expect(fixed?.spec?.template?.spec?.nodeSelector).toEqual({ "eks.amazonaws.com/capacityType": "SPOT" });
    expect(fixed?.metadata?.labels?.[COMPUTE_LABEL]).toBe("spot");
    expect(fixed?.metadata?.annotations?.[Annotation.changedAt]).toBe("2026-11-30T10:00:00Z");
  });

  it("ignores an invalid compute value", () => {
    expect(repairOf(deployment("gpu"), config, now)).toBeUndefined();
  });
});

describe("hasLeftoverSurge", () => {
  const stashed = (rollout: string | undefined, rolledOut = true) => {
    const d = deployment("fargate", "fargate");
    d.metadata!.annotations![Annotation.strategy] = '{"type":"Recreate"}';
    if (rollout !== undefined) d.metadata!.annotations![Annotation.rollout] = rollout;
    d.metadata!.generation = 2;
    d.spec!.replicas = 2;
    d.status = {
      observedGeneration: 2,
      replicas: rolledOut ? 2 : 4,
      updatedReplicas: 2,
      availableReplicas: 2,
      conditions: [{ type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" }],
    };
    return d;
  };

  it("finds a strategy stashed by a move that is over", () => {
    expect(hasLeftoverSurge(stashed("healthy"))).toBe(true);
    expect(hasLeftoverSurge(stashed(undefined))).toBe(true);
  });

  it("leaves a move still followed or still rolling (a rollback), and one with nothing stashed, alone", () => {
    expect(hasLeftoverSurge(stashed("progressing"))).toBe(false);
    expect(hasLeftoverSurge(stashed("failed: pod web-1 is not Ready", false))).toBe(false);
    expect(hasLeftoverSurge(deployment("fargate", "fargate"))).toBe(false);
  });
});
