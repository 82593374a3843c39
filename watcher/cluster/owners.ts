// Node → pods → ReplicaSets → Deployments, by ownerReferences, keeping only the opted-in Deployments.
import type {
  V1Deployment,
  V1ObjectMeta,
  V1OwnerReference,
  V1Pod,
  V1ReplicaSet,
} from "@kubernetes/client-node";
import { isOptedIn } from "../../core/contract.ts";
import { classify, statusOf, type Kube } from "../../core/kube.ts";

export interface Scope {
  /** Namespaces watched; empty means all. */
  namespaces: string[];
  /** This Deployment (in any watched namespace) counts as opted in without the annotation. */
  deploymentName: string;
}

export interface DeploymentKey {
  namespace: string;
  name: string;
}

/** The owner reference with `controller: true` of the given kind, if any. */
export function controllerOf(metadata: V1ObjectMeta | undefined, kind: string): V1OwnerReference | undefined {
  return metadata?.ownerReferences?.find((ref) => ref.controller === true && ref.kind === kind);
}

/** Pods that still hold the node: finished ones (Succeeded, Failed) do not. */
export function isRunningOn(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== "Succeeded" && phase !== "Failed";
}

export function countsAsOptedIn(deployment: V1Deployment, scope: Scope): boolean {
  return (
    isOptedIn(deployment) ||
    (scope.deploymentName !== "" && deployment.metadata?.name === scope.deploymentName)
  );
}

/** Reads a ReplicaSet's owning Deployment name; undefined when it has none or is gone. */
export type ReplicaSetOwner = (namespace: string, ref: V1OwnerReference) => Promise<string | undefined>;

/** The distinct Deployments that own `pods` through their ReplicaSets, in first-seen order. */
export async function deploymentsOwning(pods: V1Pod[], ownerOf: ReplicaSetOwner): Promise<DeploymentKey[]> {
  const seen = new Map<string, DeploymentKey>();
  const replicaSets = new Map<string, { namespace: string; ref: V1OwnerReference }>();
  for (const pod of pods) {
    if (!isRunningOn(pod)) continue;
    const ref = controllerOf(pod.metadata, "ReplicaSet");
    const namespace = pod.metadata?.namespace;
    if (ref === undefined || namespace === undefined) continue;
    replicaSets.set(`${namespace}/${ref.name}`, { namespace, ref });
  }
  const owners = await Promise.all(
    [...replicaSets.values()].map(async ({ namespace, ref }) => ({
      namespace,
      name: await ownerOf(namespace, ref),
    })),
  );
  for (const { namespace, name } of owners) {
    if (name !== undefined) seen.set(`${namespace}/${name}`, { namespace, name });
  }
  return [...seen.values()];
}

/**
 * Remembers which Deployment owns each ReplicaSet (by uid: a ReplicaSet's controller never changes), so an
 * event needs one read per ReplicaSet at most once.
 */
export class ReplicaSetOwners {
  private readonly cache = new Map<string, string | null>();
  private readonly kube: Kube;
  private readonly maxEntries: number;

  constructor(kube: Kube, maxEntries = 10_000) {
    this.kube = kube;
    this.maxEntries = maxEntries;
  }

  readonly ownerOf: ReplicaSetOwner = async (namespace, ref) => {
    const cached = this.cache.get(ref.uid);
    if (cached !== undefined) return cached ?? undefined;
    let replicaSet: V1ReplicaSet;
    try {
      replicaSet = await this.kube.apps.readNamespacedReplicaSet({ namespace, name: ref.name });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw classify(err, `read replicaset ${namespace}/${ref.name}`);
    }
    const owner = controllerOf(replicaSet.metadata, "Deployment")?.name ?? null;
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(ref.uid, owner);
    return owner ?? undefined;
  };
}

/** Pods bound to `nodeName`, across the watched namespaces. */
export async function podsOnNode(kube: Kube, nodeName: string, scope: Scope): Promise<V1Pod[]> {
  const fieldSelector = `spec.nodeName=${nodeName}`;
  try {
    if (scope.namespaces.length === 0) {
      return (await kube.core.listPodForAllNamespaces({ fieldSelector })).items;
    }
    const lists = await Promise.all(
      scope.namespaces.map((namespace) => kube.core.listNamespacedPod({ namespace, fieldSelector })),
    );
    return lists.flatMap((list) => list.items);
  } catch (err) {
    throw classify(err, `list pods on node ${nodeName}`);
  }
}

/** The opted-in Deployments with pods on `nodeName`, read fresh (annotations and resourceVersion current). */
export async function affectedDeployments(
  kube: Kube,
  nodeName: string,
  scope: Scope,
  owners: ReplicaSetOwners = new ReplicaSetOwners(kube),
): Promise<V1Deployment[]> {
  const pods = await podsOnNode(kube, nodeName, scope);
  const keys = await deploymentsOwning(pods, owners.ownerOf);
  const deployments = await Promise.all(keys.map((key) => readDeployment(kube, key)));
  return deployments.filter((d): d is V1Deployment => d !== undefined && countsAsOptedIn(d, scope));
}

async function readDeployment(kube: Kube, key: DeploymentKey): Promise<V1Deployment | undefined> {
  try {
    return await kube.apps.readNamespacedDeployment(key);
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw classify(err, `read deployment ${key.namespace}/${key.name}`);
  }
}
