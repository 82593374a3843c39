import { describe, expect, it } from "vitest";
import type { V1Node, V1Pod, V1PodSpec, V1Taint } from "@kubernetes/client-node";
import { matchesPlacement, spotFit, type ClusterView } from "./spotCapacity.ts";

interface NodeShape {
  labels?: Record<string, string>;
  taints?: V1Taint[];
  unschedulable?: boolean;
  ready?: boolean;
  cpu?: string;
  memory?: string;
}

function node(name: string, extra: NodeShape = {}): V1Node {
  return {
    metadata: {
      name,
      labels: {
        "eks.amazonaws.com/capacityType": "SPOT",
        "topology.kubernetes.io/zone": "us-east-1a",
        ...extra.labels,
      },
    },
    spec: {
      ...(extra.taints ? { taints: extra.taints } : {}),
      ...(extra.unschedulable ? { unschedulable: true } : {}),
    },
    status: {
      allocatable: { cpu: extra.cpu ?? "4", memory: extra.memory ?? "8Gi", pods: "110" },
      conditions: [{ type: "Ready", status: extra.ready === false ? "False" : "True" }],
    },
  };
}

const app: V1PodSpec = {
  containers: [{ name: "app", resources: { requests: { cpu: "1", memory: "1Gi" } } }],
};

function view(nodes: V1Node[], extra: Partial<ClusterView> = {}): ClusterView {
  return { nodes, pods: [], interruptedNodes: new Set(), stormZones: new Set(), ...extra };
}

function podOn(nodeName: string, cpu: string, memory = "0"): V1Pod {
  return {
    spec: { nodeName, containers: [{ name: "x", resources: { requests: { cpu, memory } } }] },
    status: { phase: "Running" },
  };
}

describe("spotFit", () => {
  it("fits on a healthy spot node with room", () => {
    expect(spotFit(app, 3, view([node("a")]))).toEqual({ fits: true, nodes: ["a"] });
  });

  it.each<[string, V1Node, string]>([
    ["cordoned", node("a", { unschedulable: true }), "cordoned"],
    ["not Ready", node("a", { ready: false }), "not Ready"],
    [
      "tainted by an interruption",
      node("a", { taints: [{ key: "aws-node-termination-handler/spot-itn", effect: "NoSchedule" }] }),
      "tainted aws-node-termination-handler/spot-itn",
    ],
    [
      "tainted by Karpenter disruption",
      node("a", { taints: [{ key: "karpenter.sh/disrupted", effect: "NoSchedule" }] }),
      "tainted karpenter.sh/disrupted",
    ],
  ])("does not fit on a %s node", (_name, n, why) => {
    expect(spotFit(app, 1, view([n]))).toEqual({ fits: false, why: `no usable spot node (a: ${why})` });
  });

  it("names why the nodes the Deployment could use cannot take it, not the nodes it could never use", () => {
    const pinned: V1PodSpec = { ...app, nodeSelector: { pool: "mine" } };
    const mine = node("mine", { labels: { pool: "mine" }, unschedulable: true });
    const theirs = node("theirs", { labels: { pool: "theirs" } });
    expect(spotFit(pinned, 1, view([mine, theirs]))).toEqual({
      fits: false,
      why: "no usable spot node (mine: cordoned)",
    });
    expect(spotFit(pinned, 1, view([theirs]))).toEqual({
      fits: false,
      why: "no spot node matches the Deployment's node selector, affinity and tolerations",
    });
  });

  it("ignores on-demand and Fargate nodes", () => {
    const onDemand = node("od", { labels: { "eks.amazonaws.com/capacityType": "ON_DEMAND" } });
    expect(spotFit(app, 1, view([onDemand]))).toEqual({ fits: false, why: "no spot nodes" });
  });

  it("counts Karpenter's spot label as spot", () => {
    const karpenter = node("k", {
      labels: { "eks.amazonaws.com/capacityType": "", "karpenter.sh/capacity-type": "spot" },
    });
    expect(spotFit(app, 1, view([karpenter])).fits).toBe(true);
  });

  it("does not fit when the free CPU is used by other pods", () => {
    const v = view([node("a", { cpu: "4" })], { pods: [podOn("a", "3500m")] });
    expect(spotFit(app, 1, v)).toEqual({
      fits: false,
      why: "room for 0 of 1 replicas on matching spot nodes (free CPU/memory)",
    });
  });

  it("adds up room across nodes", () => {
    const v = view([node("a", { cpu: "2" }), node("b", { cpu: "2" })]);
    expect(spotFit(app, 4, v)).toEqual({ fits: true, nodes: ["a", "b"] });
    expect(spotFit(app, 5, v).fits).toBe(false);
  });

  it("skips nodes being interrupted and zones in a storm", () => {
    const nodes = [node("a"), node("b", { labels: { "topology.kubernetes.io/zone": "us-east-1b" } })];
    expect(spotFit(app, 1, view(nodes, { interruptedNodes: new Set(["a"]) }))).toEqual({
      fits: true,
      nodes: ["b"],
    });
    expect(spotFit(app, 1, view(nodes, { stormZones: new Set(["us-east-1b"]) }))).toEqual({
      fits: true,
      nodes: ["a"],
    });
  });
});

describe("matchesPlacement", () => {
  const tainted = node("t", { taints: [{ key: "spot", value: "true", effect: "NoSchedule" }] });

  it.each<[string, V1PodSpec, V1Node, boolean]>([
    [
      "a matching nodeSelector",
      { ...app, nodeSelector: { "topology.kubernetes.io/zone": "us-east-1a" } },
      node("a"),
      true,
    ],
    ["a nodeSelector for another label", { ...app, nodeSelector: { pool: "gpu" } }, node("a"), false],
    ["an untolerated taint", app, tainted, false],
    [
      "a tolerated taint (Equal)",
      { ...app, tolerations: [{ key: "spot", operator: "Equal", value: "true", effect: "NoSchedule" }] },
      tainted,
      true,
    ],
    [
      "a tolerated taint (Exists)",
      { ...app, tolerations: [{ key: "spot", operator: "Exists" }] },
      tainted,
      true,
    ],
    [
      "a toleration for another effect",
      { ...app, tolerations: [{ key: "spot", operator: "Exists", effect: "NoExecute" }] },
      tainted,
      false,
    ],
    [
      "required node affinity In",
      {
        ...app,
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [
                    { key: "topology.kubernetes.io/zone", operator: "In", values: ["us-east-1a"] },
                  ],
                },
              ],
            },
          },
        },
      },
      node("a"),
      true,
    ],
    [
      "required node affinity NotIn",
      {
        ...app,
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [
                    { key: "topology.kubernetes.io/zone", operator: "NotIn", values: ["us-east-1a"] },
                  ],
                },
              ],
            },
          },
        },
      },
      node("a"),
      false,
    ],
    [
      "one of two affinity terms",
      {
        ...app,
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: "pool", operator: "Exists" }] },
                { matchFields: [{ key: "metadata.name", operator: "In", values: ["a"] }] },
              ],
            },
          },
        },
      },
      node("a"),
      true,
    ],
  ])("%s", (_name, spec, n, expected) => {
    expect(matchesPlacement(spec, n)).toBe(expected);
  });
});
