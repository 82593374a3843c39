import type { V1Deployment, V1Pod, V1PodDisruptionBudget } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  GUARD_LABEL,
  GUARD_UNTIL,
  guardFor,
  guardName,
  guardUntil,
  hashesOn,
  userBudgetOver,
} from "./drainGuard.ts";

const web = (grace?: number): V1Deployment => ({
  metadata: { name: "web", namespace: "shop", uid: "u-1" },
  spec: {
    selector: { matchLabels: { app: "web" } },
    template: {
      metadata: { labels: { app: "web", tier: "front" } },
      spec: { containers: [], ...(grace === undefined ? {} : { terminationGracePeriodSeconds: grace }) },
    },
  },
});
const deadline = new Date("2026-12-04T10:02:00Z");

describe("guardUntil", () => {
  it("is the deadline less the pods' grace period, 30 s when the template gives none", () => {
    expect(guardUntil(web(), deadline).toISOString()).toBe("2026-12-04T10:01:30.000Z");
    expect(guardUntil(web(90), deadline).toISOString()).toBe("2026-12-04T10:00:30.000Z");
    expect(guardUntil(web(0), deadline).toISOString()).toBe("2026-12-04T10:02:00.000Z");
  });
});

describe("guardFor", () => {
  it("holds every eviction of the pods of the Deployment's ReplicaSets on the node, is owned by it and says until when", () => {
    const pdb = guardFor(web(), new Date("2026-12-04T10:01:30Z"), ["5d8f", "7c9b"]);
    expect(pdb.metadata).toMatchObject({
      name: "web-spot-orchestrator-guard",
      namespace: "shop",
      labels: { [GUARD_LABEL]: "true" },
      annotations: { [GUARD_UNTIL]: "2026-12-04T10:01:30Z" },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "u-1" }],
    });
    expect(pdb.spec).toEqual({
      maxUnavailable: 0,
      selector: {
        matchLabels: { app: "web" },
        matchExpressions: [{ key: "pod-template-hash", operator: "In", values: ["5d8f", "7c9b"] }],
      },
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    });
  });

  it("keeps its name within 253 characters", () => {
    expect(guardName("a".repeat(253))).toHaveLength(253);
    expect(guardName("a".repeat(253)).endsWith("-spot-orchestrator-guard")).toBe(true);
  });
});

describe("hashesOn", () => {
  const pod = (namespace: string, labels: Record<string, string>): V1Pod => ({
    metadata: { namespace, labels },
  });
  it("names each ReplicaSet of the Deployment with pods on the node once, and nothing of other workloads", () => {
    const pods = [
      pod("shop", { app: "web", "pod-template-hash": "7c9b" }),
      pod("shop", { app: "web", "pod-template-hash": "5d8f" }),
      pod("shop", { app: "web", "pod-template-hash": "7c9b" }),
      pod("shop", { app: "api", "pod-template-hash": "1111" }),
      pod("other", { app: "web", "pod-template-hash": "2222" }),
      pod("shop", { app: "web" }),
    ];
    expect(hashesOn(web(), pods)).toEqual(["5d8f", "7c9b"]);
    expect(hashesOn(web(), [])).toEqual([]);
  });
});

describe("userBudgetOver", () => {
  const budget = (name: string, spec: V1PodDisruptionBudget["spec"], labels?: Record<string, string>) =>
    ({ metadata: { name, ...(labels ? { labels } : {}) }, spec }) as V1PodDisruptionBudget;
  it("finds a budget of the user's whose selector selects the pods, by labels or expressions", () => {
    const byLabels = budget("web-pdb", { maxUnavailable: 1, selector: { matchLabels: { tier: "front" } } });
    const byExpression = budget("all-fronts", {
      minAvailable: 1,
      selector: { matchExpressions: [{ key: "tier", operator: "In", values: ["front", "edge"] }] },
    });
    expect(userBudgetOver(web(), [byLabels])?.metadata?.name).toBe("web-pdb");
    expect(userBudgetOver(web(), [byExpression])?.metadata?.name).toBe("all-fronts");
  });

  it("counts an empty selector (every pod of the namespace) and ignores its own guards and others' pods", () => {
    const empty = budget("everything", { maxUnavailable: 1, selector: {} });
    const other = budget("api-pdb", { maxUnavailable: 1, selector: { matchLabels: { app: "api" } } });
    const own = budget(guardName("web"), { maxUnavailable: 0, selector: {} }, { [GUARD_LABEL]: "true" });
    expect(userBudgetOver(web(), [empty])?.metadata?.name).toBe("everything");
    expect(userBudgetOver(web(), [other, own])).toBeUndefined();
  });
});
