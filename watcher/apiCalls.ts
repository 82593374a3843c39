// Every call the watcher makes to the Kubernetes API, as RBAC sees it: the one list behind `doctor`'s
// permission checks and the test of the chart's RBAC. A unit test reads the calls out of the watcher's
// source, so this list cannot drift from what the code does.

export interface ApiAccess {
  /** API group; "" is the core group. */
  group: string;
  resource: string;
  verbs: readonly string[];
  /** `cluster`: across the watched namespaces; `lease`: the leader Lease in the watcher's own namespace. */
  scope: "cluster" | "lease";
  why: string;
}

export const WATCHER_API_CALLS: readonly ApiAccess[] = [
  {
    group: "",
    resource: "nodes",
    verbs: ["get", "list", "watch"],
    scope: "cluster",
    why: "instance → node and spot capacity (node index); the node of each moved pod",
  },
  {
    group: "",
    resource: "pods",
    verbs: ["list", "watch"],
    scope: "cluster",
    why: "node → pods and free capacity (pod index); health",
  },
  {
    group: "apps",
    resource: "replicasets",
    verbs: ["get", "list"],
    scope: "cluster",
    why: "pod → ReplicaSet → Deployment; a rollout's new ReplicaSet",
  },
  {
    group: "apps",
    resource: "deployments",
    verbs: ["get", "list", "patch", "watch"],
    scope: "cluster",
    why: "pods → opted-in Deployments (Deployment index); flip `compute`, follow rollouts, record verdicts, repair drift",
  },
  {
    group: "",
    resource: "services",
    verbs: ["get", "list"],
    scope: "cluster",
    why: "health: the Services selecting a moved workload",
  },
  {
    group: "discovery.k8s.io",
    resource: "endpointslices",
    verbs: ["list"],
    scope: "cluster",
    why: "health: ready endpoints",
  },
  {
    group: "events.k8s.io",
    resource: "events",
    verbs: ["create", "list"],
    scope: "cluster",
    why: "Events on the Deployments it moves; why a moved pod stays Pending (the scheduler's Events)",
  },
  {
    group: "scheduling.k8s.io",
    resource: "priorityclasses",
    verbs: ["list"],
    scope: "cluster",
    why: "the order in which an interruption shares out the Fargate budget (the pods' PriorityClass)",
  },
  {
    group: "policy",
    resource: "poddisruptionbudgets",
    verbs: ["create", "delete", "list"],
    scope: "cluster",
    why: "drain guards: a PodDisruptionBudget over a moving Deployment's pods while its move rolls; a user's own PodDisruptionBudget on them is left to govern",
  },
  {
    group: "coordination.k8s.io",
    resource: "leases",
    verbs: ["get", "create", "update"],
    scope: "lease",
    why: "leader election",
  },
];

/** The calls as `[group, resource, verb]`, one per verb. */
export function accessList(scope: ApiAccess["scope"]): [string, string, string][] {
  return WATCHER_API_CALLS.filter((a) => a.scope === scope).flatMap((a) =>
    a.verbs.map((verb): [string, string, string] => [a.group, a.resource, verb]),
  );
}
