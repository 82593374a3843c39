import { describe, expect, it } from "vitest";
import type { V1Deployment, V1DeploymentStrategy } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { SURGE_STRATEGY } from "../../core/moveStrategy.ts";
import type { DeploymentWrite } from "./deployment.ts";
import { guardStrategy } from "./strategyGuard.ts";

const own: V1DeploymentStrategy = { type: "Recreate" };
const rolling: V1DeploymentStrategy = {
  type: "RollingUpdate",
  rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" },
};

function stored(annotations: Record<string, string>, strategy: V1DeploymentStrategy): V1Deployment {
  return {
    metadata: { name: "web", annotations: { [Annotation.enabled]: "true", ...annotations } },
    spec: { selector: {}, strategy, template: { spec: { containers: [] } } },
  };
}

const moving = stored({ [Annotation.strategy]: JSON.stringify(own) }, SURGE_STRATEGY);

function write(object: V1Deployment, oldObject: V1Deployment | undefined = moving): DeploymentWrite {
  return { operation: "UPDATE", object, oldObject, username: "flux", namespace: "shop" };
}

/** Runs the rule as the mutating handler does: on a copy of what was sent. */
function guarded(sent: V1Deployment, computeChanged = false) {
  const mutated = structuredClone(sent);
  const warning = guardStrategy(write(sent), mutated, computeChanged);
  return { mutated, warning };
}

describe("guardStrategy", () => {
  it("keeps the surge against a re-apply of the Deployment's own strategy, and the stash with it", () => {
    const sent = stored({}, own); // the manifest from git: its own strategy, no stash annotation
    const { mutated, warning } = guarded(sent);
    expect(mutated.spec!.strategy).toEqual(SURGE_STRATEGY);
    expect(mutated.metadata!.annotations![Annotation.strategy]).toBe(JSON.stringify(own));
    expect(warning).toContain("a-move-owns-its-strategy");
  });

  it("keeps a new strategy sent during the move in the stash, for when the move ends", () => {
    const { mutated } = guarded(stored({}, rolling));
    expect(mutated.spec!.strategy).toEqual(SURGE_STRATEGY);
    expect(JSON.parse(mutated.metadata!.annotations![Annotation.strategy]!)).toEqual(rolling);
  });

  it("lets other writes through unchanged, without a warning", () => {
    const sent = structuredClone(moving);
    sent.spec!.replicas = 5;
    const { mutated, warning } = guarded(sent);
    expect(mutated).toEqual(sent);
    expect(warning).toBeUndefined();
  });

  it("hands a person's move of compute their own strategy and ends the stash", () => {
    const sent = structuredClone(moving);
    sent.metadata!.annotations![Annotation.compute] = "spot";
    const { mutated } = guarded(sent, true);
    expect(mutated.spec!.strategy).toEqual(own);
    expect(mutated.metadata!.annotations![Annotation.strategy]).toBeUndefined();
  });

  it("does nothing when no move is rolling", () => {
    const sent = stored({}, own);
    const mutated = structuredClone(sent);
    expect(guardStrategy(write(sent, stored({}, rolling)), mutated, false)).toBeUndefined();
    expect(mutated).toEqual(sent);
  });
});
