import { describe, expect, it } from "vitest";
import type { V1Deployment, V1OwnerReference, V1Pod } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";

import {
  affectedDeployments,
  deploymentNameOf,
  deploymentsOwning,
  selects,
  type ReplicaSetOwner,
} from "./affectedDeployments.ts";
import { slimDeployment } from "./deploymentIndex.ts";
import { controllerOf } from "./pods.ts";
import { countsAsOptedIn } from "../../core/contract.ts";

function owner(kind: string, name: string, controller = true): V1OwnerReference {
  return { apiVersion: "apps/v1", kind, name, uid: `uid-${name}`, controller };
}

function pod(namespace: string, name: string, owners: V1OwnerReference[], phase = "Running"): V1Pod {
  return { metadata: { namespace, name, ownerReferences: owners }, status: { phase } };
}

/** ReplicaSet name → Deployment name, as the apiserver would answer; counts the reads. */
function lookup(table: Record<string, string | undefined>) {
  const reads: string[] = [];
  const ownerOf: ReplicaSetOwner = async (namespace, ref) => {
    reads.push(`${namespace}/${ref.name}`);
    return table[`${namespace}/${ref.name}`];
  };
  return { ownerOf, reads };
}

describe("controllerOf", () => {
  it("finds the controlling owner of a kind", () => {
    const meta = { ownerReferences: [owner("ReplicaSet", "a", false), owner("ReplicaSet", "b")] };
    expect(controllerOf(meta, "ReplicaSet")?.name).toBe("b");
    expect(controllerOf(meta, "Deployment")).toBeUndefined();
    expect(controllerOf(undefined, "ReplicaSet")).toBeUndefined();
  });
});

describe("deploymentsOwning", () => {
  it("resolves pods through ReplicaSets to distinct Deployments, reading each ReplicaSet once", async () => {
    const { ownerOf, reads } = lookup({ "a/web-1": "web", "a/web-2": "web", "b/api-1": "api" });
    const pods = [
      pod("a", "web-1-x", [owner("ReplicaSet", "web-1")]),
      pod("a", "web-1-y", [owner("ReplicaSet", "web-1")]),
      pod("a", "web-2-z", [owner("ReplicaSet", "web-2")]),
      pod("b", "api-1-x", [owner("ReplicaSet", "api-1")]),
    ];
    expect(await deploymentsOwning(pods, ownerOf)).toEqual([
      { namespace: "a", name: "web" },
      { namespace: "b", name: "api" },
    ]);
    expect(reads.sort()).toEqual(["a/web-1", "a/web-2", "b/api-1"]);
  });

  it("keeps same-named Deployments of different namespaces apart", async () => {
    const { ownerOf } = lookup({ "a/web-1": "web", "b/web-1": "web" });
    const pods = [
      pod("a", "p", [owner("ReplicaSet", "web-1")]),
      pod("b", "p", [owner("ReplicaSet", "web-1")]),
    ];
    expect(await deploymentsOwning(pods, ownerOf)).toHaveLength(2);
  });

  it("ignores pods without a ReplicaSet controller, finished pods and ownerless ReplicaSets", async () => {
    const { ownerOf, reads } = lookup({ "a/orphan-rs": undefined, "a/done-rs": "batchy" });
    const pods = [
      pod("a", "static", []),
      pod("a", "ds-pod", [owner("DaemonSet", "ds")]),
      pod("a", "job-pod", [owner("Job", "job")]),
      pod("a", "not-controller", [owner("ReplicaSet", "web-1", false)]),
      pod("a", "orphan", [owner("ReplicaSet", "orphan-rs")]),
      pod("a", "done", [owner("ReplicaSet", "done-rs")], "Succeeded"),
      pod("a", "failed", [owner("ReplicaSet", "done-rs")], "Failed"),
    ];
    expect(await deploymentsOwning(pods, ownerOf)).toEqual([]);
    expect(reads).toEqual(["a/orphan-rs"]);
  });
});

describe("deploymentNameOf", () => {
  const labelled = (replicaSet: string, hash: string | undefined): V1Pod => ({
    metadata: {
      ownerReferences: [owner("ReplicaSet", replicaSet)],
      labels: hash === undefined ? {} : { "pod-template-hash": hash },
    },
  });
  it("reads the Deployment name out of `<deployment>-<pod-template-hash>`", () => {
    expect(deploymentNameOf(labelled("web-api-7d9f8c6b5", "7d9f8c6b5"))).toBe("web-api");
  });
  it.each([
    ["no pod-template-hash label", labelled("web-7d9f8c6b5", undefined)],
    ["a ReplicaSet not named after the hash", labelled("hand-made", "7d9f8c6b5")],
    ["nothing before the hash", labelled("-7d9f8c6b5", "7d9f8c6b5")],
    ["no ReplicaSet controller", pod("a", "p", [owner("Job", "web-7d9f8c6b5")])],
  ])("gives no guess for %s", (_, p) => {
    expect(deploymentNameOf(p)).toBeUndefined();
  });
});

describe("selects", () => {
  const web: V1Deployment = {
    spec: { selector: { matchLabels: { app: "web", tier: "front" } }, template: {} },
  };
  const labelled = (labels: Record<string, string>): V1Pod => ({ metadata: { labels } });
  it("is true when every matchLabels entry is on the pod", () => {
    expect(selects(web, labelled({ app: "web", tier: "front", "pod-template-hash": "x" }))).toBe(true);
  });
  it("is false when one differs or is missing", () => {
    expect(selects(web, labelled({ app: "web", tier: "back" }))).toBe(false);
    expect(selects(web, labelled({ app: "web" }))).toBe(false);
  });
  it("judges matchExpressions too, and never selects with an empty selector", () => {
    const expressions: V1Deployment = {
      spec: {
        selector: { matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "Exists" }] },
        template: {},
      },
    };
    expect(selects(expressions, labelled({ app: "web", tier: "front" }))).toBe(true);
    expect(selects(expressions, labelled({ app: "web" }))).toBe(false);
    expect(selects({ spec: { selector: {}, template: {} } }, labelled({ app: "web" }))).toBe(false);
  });
});

describe("countsAsOptedIn", () => {
  const deployment = (name: string, annotations: Record<string, string> = {}): V1Deployment => ({
    metadata: { name, namespace: "a", annotations },
  });
  it.each([
    ["annotated", deployment("web", { [Annotation.enabled]: "true" }), "", true],
    ["annotated false", deployment("web", { [Annotation.enabled]: "false" }), "", false],
    ["not annotated", deployment("web"), "", false],
    ["the configured Deployment", deployment("web"), "web", true],
    ["another Deployment", deployment("api"), "web", false],
  ])("%s", (_, d, deploymentName, expected) => {
    expect(countsAsOptedIn(d, { namespaces: [], deploymentName })).toBe(expected);
  });
});

describe("affectedDeployments", () => {
  const scope = { namespaces: ["a", "b"], deploymentName: "" };
  const deployment = (namespace: string, name: string, optedIn: boolean): V1Deployment => {
    const stored: V1Deployment = {
      metadata: { namespace, name, annotations: optedIn ? { [Annotation.enabled]: "true" } : {} },
      spec: { selector: { matchLabels: { app: name } }, template: {} },
    };
    return slimDeployment(scope)(stored);
  };
  const hashed = (namespace: string, app: string, replicaSet: string, hash: string): V1Pod => ({
    metadata: {
      namespace,
      name: `${replicaSet}-x`,
      labels: { app, "pod-template-hash": hash },
      ownerReferences: [owner("ReplicaSet", replicaSet)],
    },
  });
  const indexed = (deployments: V1Deployment[]) => ({
    get: (ref: { namespace: string; name: string }) =>
      deployments.find((d) => d.metadata?.namespace === ref.namespace && d.metadata?.name === ref.name),
    synced: Promise.resolve(),
  });
  const onNode = (pods: V1Pod[]) => ({ onNode: () => pods, all: () => pods, synced: Promise.resolve() });

  it("finds the opted-in Deployments of a node's pods in the index, reading nothing", async () => {
    const { ownerOf, reads } = lookup({});
    const pods = [
      hashed("a", "web", "web-5d8c9", "5d8c9"),
      hashed("a", "web", "web-5d8c9", "5d8c9"),
      hashed("b", "api", "api-66f7b", "66f7b"),
      hashed("a", "batch", "batch-7c4d2", "7c4d2"),
    ];
    const deployments = indexed([
      deployment("a", "web", true),
      deployment("b", "api", true),
      deployment("a", "batch", false),
    ]);
    const found = await affectedDeployments(
      "n",
      { pods: onNode(pods), deployments, owners: { ownerOf }, scope },
      5,
    );
    expect(found.map((d) => `${d.metadata?.namespace}/${d.metadata?.name}`)).toEqual(["a/web", "b/api"]);
    expect(reads).toEqual([]);
  });

  it("reads the ReplicaSet of a pod whose ReplicaSet is not named after its Deployment, once", async () => {
    const { ownerOf, reads } = lookup({ "a/hand-made": "web" });
    const pods = [hashed("a", "web", "hand-made", "5d8c9"), hashed("a", "web", "hand-made", "5d8c9")];
    const deployments = indexed([deployment("a", "web", true)]);
    const found = await affectedDeployments(
      "n",
      { pods: onNode(pods), deployments, owners: { ownerOf }, scope },
      5,
    );
    expect(found.map((d) => d.metadata?.name)).toEqual(["web"]);
    expect(reads).toEqual(["a/hand-made"]);
  });

  it("leaves out pods of other namespaces and finished pods", async () => {
    const { ownerOf } = lookup({});
    const finished = { ...hashed("a", "web", "web-5d8c9", "5d8c9"), status: { phase: "Succeeded" } };
    const pods = [hashed("c", "web", "web-5d8c9", "5d8c9"), finished];
    const deployments = indexed([deployment("a", "web", true), deployment("c", "web", true)]);
    const found = await affectedDeployments(
      "n",
      { pods: onNode(pods), deployments, owners: { ownerOf }, scope },
      5,
    );
    expect(found).toEqual([]);
  });
});
