// Is spot really available for a Deployment? Pure rules over Nodes, the pods on them, and the pod spec the
// Deployment would have back on spot (its restored placement).
import type {
  V1Node,
  V1NodeSelectorRequirement,
  V1Pod,
  V1PodSpec,
  V1Taint,
  V1Toleration,
} from "@kubernetes/client-node";
import { NodeLabel } from "../../core/contract.ts";
import { parseQuantity } from "../../core/quantity.ts";
import { podRequests } from "../../core/podRequests.ts";
import { isSpotNode } from "../cluster/nodeKinds.ts";
import { holdsNode } from "../cluster/pods.ts";

/** Taints that announce a node is going away or being drained (NTH, Karpenter, cluster-autoscaler, kubelet). */
const DISRUPTION_TAINTS = [
  "aws-node-termination-handler/spot-itn",
  "aws-node-termination-handler/rebalance-recommendation",
  "aws-node-termination-handler/asg-lifecycle-termination",
  "aws-node-termination-handler/scheduled-maintenance",
  "karpenter.sh/disrupted",
  "karpenter.sh/disruption",
  "ToBeDeletedByClusterAutoscaler",
  "DeletionCandidateOfClusterAutoscaler",
  "node.kubernetes.io/unschedulable",
  "node.kubernetes.io/not-ready",
  "node.kubernetes.io/unreachable",
  "node.kubernetes.io/network-unavailable",
];

export interface ClusterView {
  nodes: V1Node[];
  /** Non-terminated pods, for the requests already placed on each node. */
  pods: V1Pod[];
  /** Nodes with an interruption in flight (event seen, node not gone yet). */
  interruptedNodes: ReadonlySet<string>;
  /** Zones with an interruption seen within the storm-guard window. */
  stormZones: ReadonlySet<string>;
}

export type SpotFit = { fits: true; nodes: string[] } | { fits: false; why: string };

/** Whether `replicas` pods of `spec` fit on healthy spot nodes that satisfy its placement. */
export function spotFit(spec: V1PodSpec, replicas: number, view: ClusterView): SpotFit {
  const spot = view.nodes.filter(isSpotNode);
  if (spot.length === 0) return { fits: false, why: "no spot nodes" };
  // disruption taints make a node unusable, not a mismatch: they are told as such below
  const candidates = spot.filter((n) => matchesPlacement(spec, n, DISRUPTION_TAINTS));
  if (candidates.length === 0) {
    return {
      fits: false,
      why: "no spot node matches the Deployment's node selector, affinity and tolerations",
    };
  }
  // why each node the Deployment could use cannot take it now, so the reason names the node to look at
  const matching = candidates.filter((n) => unusableBecause(n, view) === undefined);
  if (matching.length === 0) {
    const why = candidates.map((n) => `${n.metadata?.name}: ${unusableBecause(n, view)}`).join("; ");
    return { fits: false, why: `no usable spot node (${why})` };
  }

  const want = podRequests(spec);
  const used = requestsByNode(view.pods);
  let room = 0;
  const nodes: string[] = [];
  for (const node of matching) {
    const name = node.metadata?.name ?? "";
    const free = freeOn(node, used.get(name));
    const fit = Math.min(
      want.cpu > 0 ? Math.floor(free.cpu / want.cpu) : Infinity,
      want.memory > 0 ? Math.floor(free.memory / want.memory) : Infinity,
      free.pods,
    );
    if (fit > 0) nodes.push(name);
    room += fit;
  }
  if (room < replicas) {
    return {
      fits: false,
      why: `room for ${room} of ${replicas} replicas on matching spot nodes (free CPU/memory)`,
    };
  }
  return { fits: true, nodes };
}

function unusableBecause(node: V1Node, view: ClusterView): string | undefined {
  const name = node.metadata?.name ?? "";
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  if (ready?.status !== "True") return "not Ready";
  if (node.spec?.unschedulable === true) return "cordoned";
  const disruption = node.spec?.taints?.find((t) => DISRUPTION_TAINTS.includes(t.key));
  if (disruption) return `tainted ${disruption.key}`;
  if (node.metadata?.deletionTimestamp) return "being deleted";
  if (view.interruptedNodes.has(name)) return "being interrupted";
  const zone = node.metadata?.labels?.[NodeLabel.zone];
  if (zone !== undefined && view.stormZones.has(zone)) return `recent interruption in zone ${zone}`;
  return undefined;
}

/** Whether pods of `spec` may run on `node` (selector, required affinity, taints but those `ignoring`). */
export function matchesPlacement(spec: V1PodSpec, node: V1Node, ignoring: readonly string[] = []): boolean {
  const labels = node.metadata?.labels ?? {};
  for (const [key, value] of Object.entries(spec.nodeSelector ?? {})) {
    if (labels[key] !== value) return false;
  }
  const required = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required && !required.nodeSelectorTerms.some((term) => termMatches(term, node))) return false;
  return (node.spec?.taints ?? []).every(
    (taint) =>
      taint.effect === "PreferNoSchedule" ||
      ignoring.includes(taint.key) ||
      tolerated(taint, spec.tolerations ?? []),
  );
}

function termMatches(
  term: { matchExpressions?: V1NodeSelectorRequirement[]; matchFields?: V1NodeSelectorRequirement[] },
  node: V1Node,
): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false; // an empty term matches nothing
  const labels = node.metadata?.labels ?? {};
  return (
    expressions.every((r) => requirementMatches(r, labels[r.key])) &&
    fields.every((r) => requirementMatches(r, r.key === "metadata.name" ? node.metadata?.name : undefined))
  );
}

function requirementMatches(r: V1NodeSelectorRequirement, value: string | undefined): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "Gt":
    case "Lt": {
      const n = Number(value);
      const bound = Number(values[0]);
      if (value === undefined || !Number.isInteger(n) || !Number.isInteger(bound)) return false;
      return r.operator === "Gt" ? n > bound : n < bound;
    }
    default:
      return false;
  }
}

function tolerated(taint: V1Taint, tolerations: V1Toleration[]): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.key === undefined || t.key === "") return t.operator === "Exists";
    if (t.key !== taint.key) return false;
    return t.operator === "Exists" || (t.value ?? "") === (taint.value ?? "");
  });
}

interface Used {
  cpu: number;
  memory: number;
  pods: number;
}

function requestsByNode(pods: V1Pod[]): Map<string, Used> {
  const used = new Map<string, Used>();
  for (const pod of pods) {
    const node = pod.spec?.nodeName;
    if (!node || !pod.spec || !holdsNode(pod)) continue;
    const r = podRequests(pod.spec);
    const u = used.get(node) ?? { cpu: 0, memory: 0, pods: 0 };
    used.set(node, { cpu: u.cpu + r.cpu, memory: u.memory + r.memory, pods: u.pods + 1 });
  }
  return used;
}

function freeOn(node: V1Node, used: Used | undefined): Used {
  const allocatable = node.status?.allocatable ?? {};
  const amount = (key: string) => {
    try {
      return allocatable[key] === undefined ? 0 : parseQuantity(allocatable[key]);
    } catch {
      return 0;
    }
  };
  return {
    cpu: amount("cpu") - (used?.cpu ?? 0),
    memory: amount("memory") - (used?.memory ?? 0),
    pods: amount("pods") - (used?.pods ?? 0),
  };
}
