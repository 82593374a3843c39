import { describe, expect, it } from "vitest";
import type { V1Deployment, V1DeploymentStrategy } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { SURGE_STRATEGY, strategyMergePatch } from "../../core/moveStrategy.ts";
import { movePatch, recoveryPatch, restorePatch, verdictPatch } from "./patches.ts";

const context = { now: new Date("2026-12-03T10:00:00Z"), username: "system:serviceaccount:so:so" };

const strategies: Record<string, V1DeploymentStrategy> = {
  default: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
  "half unavailable": { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "50%" } },
  "no surge": { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
  Recreate: { type: "Recreate" },
};

function deployment(
  strategy: V1DeploymentStrategy,
  annotations: Record<string, string> = {},
  volumes: NonNullable<NonNullable<V1Deployment["spec"]>["template"]["spec"]>["volumes"] = [],
): V1Deployment {
  return {
    metadata: {
      name: "web",
      namespace: "shop",
      annotations: { [Annotation.enabled]: "true", ...annotations },
    },
    spec: {
      selector: {},
      strategy,
      template: { spec: { containers: [{ name: "app", image: "nginx" }], volumes } },
    },
  };
}

/** The Deployment as the apiserver stores it after a merge patch of annotations and strategy. */
function applied(current: V1Deployment, patch: ReturnType<typeof movePatch> | undefined): V1Deployment {
  const next = structuredClone(current);
  for (const [key, value] of Object.entries(patch?.annotations ?? {})) {
    const annotations = (next.metadata!.annotations ??= {});
    if (value === null) delete annotations[key];
    else annotations[key] = value;
  }
  if (patch?.strategy) {
    const merge = strategyMergePatch(patch.strategy);
    next.spec!.strategy = JSON.parse(
      JSON.stringify({ ...next.spec!.strategy, ...merge }, (_k, v: unknown) => (v === null ? undefined : v)),
    ) as V1DeploymentStrategy;
  }
  return next;
}

describe("a move rolls with the surge", () => {
  it.each(Object.entries(strategies))("stashes a %s strategy and sets the surge", (_name, own) => {
    const patch = movePatch(deployment(own), "fargate", "spot-interruption", context);
    expect(patch.strategy).toEqual(SURGE_STRATEGY);
    expect(JSON.parse(patch.annotations![Annotation.strategy]!)).toEqual(own);
  });

  it.each(Object.entries(strategies))(
    "puts a %s strategy back byte for byte with the verdict",
    (_name, own) => {
      const before = deployment(own);
      const moving = applied(before, movePatch(before, "fargate", "spot-interruption", context));
      moving.metadata!.annotations![Annotation.compute] = "fargate";
      expect(moving.spec!.strategy).toEqual(SURGE_STRATEGY);
      for (const result of [
        { ok: true, seconds: 50 },
        { ok: false, why: "not done" },
      ] as const) {
        const done = applied(moving, verdictPatch(moving, "fargate", result, context));
        expect(JSON.stringify(done.spec!.strategy)).toBe(JSON.stringify(own));
        expect(done.metadata!.annotations![Annotation.strategy]).toBeUndefined();
      }
    },
  );

  it("keeps Recreate for pods that mount a PersistentVolumeClaim", () => {
    const own = strategies.Recreate!;
    const withClaim = deployment(own, {}, [{ name: "data", persistentVolumeClaim: { claimName: "data" } }]);
    const patch = movePatch(withClaim, "fargate", "spot-interruption", context);
    expect(patch.strategy).toBeUndefined();
    expect(patch.annotations![Annotation.strategy]).toBeUndefined();
    // a rolling Deployment with a claim still surges: its own strategy already lets old and new overlap
    const rolling = deployment(strategies.default!, {}, withClaim.spec!.template.spec!.volumes);
    expect(movePatch(rolling, "fargate", "spot-interruption", context).strategy).toEqual(SURGE_STRATEGY);
  });

  it("leaves a stash of an earlier move as it is", () => {
    const stash = JSON.stringify(strategies.Recreate);
    const moving = deployment(SURGE_STRATEGY, { [Annotation.strategy]: stash });
    const patch = movePatch(moving, "fargate", "spot-interruption", context);
    expect(patch.annotations![Annotation.strategy]).toBeUndefined();
    expect(patch.strategy).toBeUndefined();
  });

  it("sets the surge again when someone changed the strategy during the move", () => {
    const stash = JSON.stringify(strategies.default);
    const changed = deployment(strategies.Recreate!, { [Annotation.strategy]: stash });
    const patch = movePatch(changed, "fargate", "spot-interruption", context);
    expect(patch.strategy).toEqual(SURGE_STRATEGY);
    expect(patch.annotations![Annotation.strategy]).toBeUndefined();
  });
});

describe("recovery and rollback", () => {
  const own = strategies["no surge"]!;
  const onFargate = deployment(own, {
    [Annotation.compute]: "fargate",
    [Annotation.reason]: "spot-interruption",
  });

  it("recovers with the surge and restores on success", () => {
    const recovering = applied(onFargate, recoveryPatch(onFargate, "fargate", context));
    recovering.metadata!.annotations![Annotation.compute] = "spot";
    expect(recovering.spec!.strategy).toEqual(SURGE_STRATEGY);
    const done = applied(recovering, verdictPatch(recovering, "spot", { ok: true, seconds: 3 }, context));
    expect(done.spec!.strategy).toEqual(own);
    expect(done.metadata!.annotations![Annotation.strategy]).toBeUndefined();
  });

  it("rolls back with the same surge, and the rollback's verdict restores", () => {
    const recovering = applied(onFargate, recoveryPatch(onFargate, "fargate", context));
    recovering.metadata!.annotations![Annotation.compute] = "spot";
    const failed = verdictPatch(recovering, "spot", { ok: false, why: "pods Pending" }, context);
    expect(failed!.annotations![Annotation.compute]).toBe("fargate");
    expect(failed!.annotations![Annotation.strategy]).toBeUndefined(); // the stash stays
    const rollingBack = applied(recovering, failed);
    expect(rollingBack.spec!.strategy).toEqual(SURGE_STRATEGY);
    const done = applied(
      rollingBack,
      verdictPatch(rollingBack, "fargate", { ok: true, seconds: 60 }, context),
    );
    expect(done.spec!.strategy).toEqual(own);
  });
});

describe("restorePatch", () => {
  it("removes an unreadable stash and leaves the strategy as it is", () => {
    const broken = deployment(SURGE_STRATEGY, { [Annotation.strategy]: "{not json" });
    expect(restorePatch(broken)).toEqual({ annotations: { [Annotation.strategy]: null } });
  });

  it("has nothing to do without a stash", () => {
    expect(restorePatch(deployment(strategies.default!))).toEqual({});
  });
});
