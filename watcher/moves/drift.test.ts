import { describe, expect, it } from "vitest";
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation, COMPUTE_LABEL } from "../../core/contract.ts";
import { loadConfig } from "../../core/config.ts";
import { place } from "../../core/placement.ts";
import type { V1ManagedFieldsEntry } from "@kubernetes/client-node";
import { LAST_APPLIED } from "../../core/applyRule.ts";
import { applyRevertedNote, hasLeftoverSurge, repairOf, revertOf } from "./drift.ts";

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
    // the orchestrator's own moves write the label: a change without it is a person's
    expect(fixed?.metadata?.annotations?.[Annotation.reason]).toBe("manual");
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

/** Who wrote which annotations, as the apiserver records it in managedFields. */
function entry(
  manager: string,
  operation: "Apply" | "Update",
  annotations: string[],
  time = "2026-11-30T09:00:00Z",
): V1ManagedFieldsEntry {
  const owned = Object.fromEntries(annotations.map((key) => [`f:${key}`, {}]));
  return {
    manager,
    operation,
    apiVersion: "apps/v1",
    time: time as unknown as Date,
    fieldsType: "FieldsV1",
    fieldsV1: { "f:metadata": { "f:annotations": owned } },
  };
}

describe("revertOf", () => {
  /** On Fargate after an interruption; then `compute` was changed to spot by `writer`, unseen by the webhook. */
  function movedBack(writer: V1ManagedFieldsEntry[], compute: string | null = "spot"): V1Deployment {
    const d = place(deployment("fargate", "fargate"), "fargate", config.compute);
    d.metadata!.annotations![Annotation.reason] = "spot-interruption";
    if (compute === null) delete d.metadata!.annotations![Annotation.compute];
    else d.metadata!.annotations![Annotation.compute] = compute;
    d.metadata!.managedFields = [
      entry("spot-orchestrator", "Update", [Annotation.reason], "2026-11-30T08:00:00Z"),
      ...writer,
    ];
    return d;
  }

  it.each([
    ["a server-side apply (Flux)", [entry("kustomize-controller", "Apply", [Annotation.compute])]],
    ["kubectl apply", [entry("kubectl-client-side-apply", "Update", [Annotation.compute, LAST_APPLIED])]],
    [
      "a client-side apply of another tool (Argo CD)",
      [entry("argocd-controller", "Update", [Annotation.compute, LAST_APPLIED])],
    ],
  ])("restores the stint that %s undid: compute, placement, the move's surge", (_, writer) => {
    const d = movedBack(writer);
    d.metadata!.annotations![LAST_APPLIED] = "{}";
    const revert = revertOf(d, config)!;
    expect(revert.hold).toEqual({ compute: "fargate", reason: "spot-interruption" });
    expect(revert.applier.manager).toBe(writer[0]!.manager);
    const restored = revert.restored;
    expect(restored.metadata?.annotations?.[Annotation.compute]).toBe("fargate");
    expect(restored.spec).toEqual(
      place(
        { ...restored, spec: { ...restored.spec!, template: d.spec!.template } },
        "fargate",
        config.compute,
      ).spec,
    );
    expect(restored.spec?.strategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: "100%", maxUnavailable: 0 },
    });
    expect(restored.metadata?.annotations?.[Annotation.strategy]).toBeDefined();
    // when it moved is when it moved: the recovery cooldown still counts from the interruption
    expect(restored.metadata?.annotations?.[Annotation.changedAt]).toBe(
      d.metadata?.annotations?.[Annotation.changedAt],
    );
  });

  it("restores it when the apply removed compute, told by the latest write", () => {
    const d = movedBack(
      [entry("kubectl-client-side-apply", "Update", [LAST_APPLIED], "2026-11-30T09:30:00Z")],
      null,
    );
    d.metadata!.annotations![LAST_APPLIED] = "{}";
    const revert = revertOf(d, config)!;
    expect(revert.restored.metadata?.annotations?.[Annotation.compute]).toBe("fargate");
    expect(applyRevertedNote("web", revert, "removal")).toBe(
      'A client-side apply by "kubectl-client-side-apply" removed spot-orchestrator.io/compute (absent ' +
        "means spot) while the webhook was unavailable, moving the Deployment back to spot; the " +
        "orchestrator keeps it on Fargate (reason spot-interruption), so spot-orchestrator.io/compute=fargate " +
        "and its placement are restored (rule apply-never-undoes-a-move). Recovery returns it to spot; to " +
        "move it there now, kubectl annotate deployment web spot-orchestrator.io/compute=spot --overwrite",
    );
  });

  it.each([
    ["kubectl annotate --overwrite", [entry("kubectl-annotate", "Update", [Annotation.compute])], "spot"],
    ["kubectl edit", [entry("kubectl-edit", "Update", [Annotation.compute])], "spot"],
    ["kubectl annotate compute-", [entry("kubectl-annotate", "Update", [], "2026-11-30T09:30:00Z")], null],
    ["a write nobody owns", [], "spot"],
  ])("honours a person's move back to spot: %s", (_, writer, compute) => {
    expect(revertOf(movedBack(writer, compute), config)).toBeUndefined();
  });

  it("leaves alone what the orchestrator does not keep off spot", () => {
    const flux = [entry("kustomize-controller", "Apply", [Annotation.compute])];
    const manual = movedBack(flux);
    manual.metadata!.annotations![Annotation.reason] = "manual";
    expect(revertOf(manual, config)).toBeUndefined();
    // the webhook saw the move back (or the watcher made it): the label says spot
    const seen = movedBack(flux);
    seen.metadata!.labels![COMPUTE_LABEL] = "spot";
    expect(revertOf(seen, config)).toBeUndefined();
    // still on Fargate: nothing to restore
    expect(revertOf(movedBack(flux, "fargate"), config)).toBeUndefined();
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
