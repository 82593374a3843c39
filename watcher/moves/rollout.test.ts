import { describe, expect, it } from "vitest";
import type { V1Deployment, V1DeploymentStatus } from "@kubernetes/client-node";
import type { Kube } from "../../core/kube.ts";
import { indexedReads, rolloutStatus } from "./rollout.ts";

function deployment(status: V1DeploymentStatus, replicas = 2, generation = 3): V1Deployment {
  return {
    metadata: { name: "web", namespace: "a", generation },
    spec: { replicas, selector: {}, template: {} },
    status,
  };
}

const progressing = (reason: string, message = "") => ({
  type: "Progressing",
  status: reason === "ProgressDeadlineExceeded" ? "False" : "True",
  reason,
  message,
});

const complete: V1DeploymentStatus = {
  observedGeneration: 3,
  replicas: 2,
  updatedReplicas: 2,
  availableReplicas: 2,
  readyReplicas: 2,
  conditions: [progressing("NewReplicaSetAvailable")],
};

describe("rolloutStatus", () => {
  it("is done when every replica is updated, available and the old ones are gone", () => {
    expect(rolloutStatus(deployment(complete))).toEqual({ done: true });
  });

  it.each<[string, V1DeploymentStatus, RegExp]>([
    ["generation not observed", { ...complete, observedGeneration: 2 }, /generation 3 not yet observed/],
    ["not all updated", { ...complete, updatedReplicas: 1 }, /1 of 2 replicas updated/],
    ["old replicas left", { ...complete, replicas: 3 }, /1 old replicas pending termination/],
    ["not all available", { ...complete, availableReplicas: 1 }, /1 of 2 replicas available/],
    [
      "still progressing",
      { ...complete, conditions: [progressing("ReplicaSetUpdated")] },
      /Progressing is ReplicaSetUpdated/,
    ],
    ["no conditions yet", { ...complete, conditions: [] }, /not reported/],
    ["empty status", {}, /generation 3 not yet observed/],
  ])("is in progress when %s", (_, status, why) => {
    const result = rolloutStatus(deployment(status));
    expect(result.done).toBe(false);
    expect(result).toMatchObject({ failed: false, why: expect.stringMatching(why) });
  });

  it("fails on ProgressDeadlineExceeded, with the controller's message", () => {
    const status = {
      ...complete,
      updatedReplicas: 1,
      conditions: [
        progressing("ProgressDeadlineExceeded", 'ReplicaSet "web-abc" has timed out progressing.'),
      ],
    };
    expect(rolloutStatus(deployment(status))).toEqual({
      done: false,
      failed: true,
      why: 'progress deadline exceeded: ReplicaSet "web-abc" has timed out progressing.',
    });
  });

  it("ignores a stale deadline condition from an older generation", () => {
    const status = {
      ...complete,
      observedGeneration: 2,
      conditions: [progressing("ProgressDeadlineExceeded")],
    };
    expect(rolloutStatus(deployment(status))).toMatchObject({ done: false, failed: false });
  });

  it("treats a missing replica count as 1 and zero replicas as done once observed", () => {
    const one = deployment({ ...complete, replicas: 1, updatedReplicas: 1, availableReplicas: 1 });
    delete one.spec!.replicas;
    expect(rolloutStatus(one)).toEqual({ done: true });
    const zero = { observedGeneration: 3, conditions: [progressing("NewReplicaSetAvailable")] };
    expect(rolloutStatus(deployment(zero, 0))).toEqual({ done: true });
  });
});

describe("indexedReads", () => {
  const written: V1Deployment = { metadata: { name: "web", namespace: "a", resourceVersion: "7", uid: "u" } };
  const indexed: V1Deployment = { ...written, metadata: { ...written.metadata, resourceVersion: "9" } };
  const stored: V1Deployment = { ...written, metadata: { ...written.metadata, resourceVersion: "10" } };

  function reads(delivered: boolean) {
    const asked: string[] = [];
    const kube = {
      apps: { readNamespacedDeployment: async () => (asked.push("GET deployment"), stored) },
      core: { readNode: async ({ name }: { name: string }) => (asked.push(`GET node ${name}`), {}) },
    } as unknown as Kube;
    const r = indexedReads(kube, {
      deployments: { notOlderThan: (seen) => (delivered && seen === written ? indexed : undefined) },
      nodes: { byName: (name) => (name === "known" ? { metadata: { name } } : undefined) },
    });
    return { r, asked };
  }

  it("takes the index's copy once its watch delivered the version the move wrote, asking nothing", async () => {
    const { r, asked } = reads(true);
    expect(await r.deployment({ namespace: "a", name: "web" }, written)).toBe(indexed);
    expect(await r.node("known")).toEqual({ metadata: { name: "known" } });
    expect(asked).toEqual([]);
  });

  it("reads the apiserver while the watch lags the move's write, or with nothing seen yet", async () => {
    const { r, asked } = reads(false);
    expect(await r.deployment({ namespace: "a", name: "web" }, written)).toBe(stored);
    expect(await r.deployment({ namespace: "a", name: "web" }, undefined)).toBe(stored);
    await r.node("fargate-ip-10-0-0-1");
    expect(asked).toEqual(["GET deployment", "GET deployment", "GET node fargate-ip-10-0-0-1"]);
  });
});
