// The Deployments an interruption of a node affects: node → pods → ReplicaSets → Deployments, by
// ownerReferences, keeping only the opted-in Deployments.
import type { V1Deployment, V1OwnerReference, V1Pod, V1ReplicaSet } from "@kubernetes/client-node";
import { classify, statusOf, type Kube } from "../../core/kube.ts";
import { mapLimit } from "../../core/mapLimit.ts";
import { countsAsOptedIn, keyOf, type DeploymentRef, type Scope } from "../deployments.ts";
import { controllerOf, holdsNode } from "./pods.ts";

/** Reads a ReplicaSet's owning Deployment name; undefined when it has none or is gone. */
export type ReplicaSetOwner = (namespace: string, ref: V1OwnerReference) => Promise<string | undefined>;

/** The distinct Deployments that own `pods` through their ReplicaSets, in first-seen order. */
export async function deploymentsOwning(
  pods: V1Pod[],
  ownerOf: ReplicaSetOwner,
  concurrency = 20,
): Promise<DeploymentRef[]> {
  const seen = new Map<string, DeploymentRef>();
  const replicaSets = new Map<string, { namespace: string; ref: V1OwnerReference }>();
  for (const pod of pods) {
    if (!holdsNode(pod)) continue;
    const ref = controllerOf(pod.metadata, "ReplicaSet");
    const namespace = pod.metadata?.namespace;
    if (ref === undefined || namespace === undefined) continue;
    replicaSets.set(`${namespace}/${ref.name}`, { namespace, ref });
  }
  const owners = await mapLimit([...replicaSets.values()], concurrency, async ({ namespace, ref }) => ({
    namespace,
    name: await ownerOf(namespace, ref),
  }));
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
async function podsOnNode(kube: Kube, nodeName: string, scope: Scope): Promise<V1Pod[]> {
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

/**
 * The Deployment a pod's ReplicaSet name points to: the deployment controller names its ReplicaSets
 * `<deployment>-<pod-template-hash>`. A guess, to be confirmed with `selects`.
 */
export function deploymentNameOf(pod: V1Pod): string | undefined {
  const replicaSet = controllerOf(pod.metadata, "ReplicaSet")?.name;
  const hash = pod.metadata?.labels?.["pod-template-hash"];
  if (replicaSet === undefined || !hash || !replicaSet.endsWith(`-${hash}`)) return undefined;
  return replicaSet.slice(0, -hash.length - 1) || undefined;
}

/** Whether the Deployment's selector selects the pod; only a plain matchLabels selector is judged. */
export function selects(deployment: V1Deployment, pod: V1Pod): boolean {
  const selector = deployment.spec?.selector;
  const matchLabels = Object.entries(selector?.matchLabels ?? {});
  if (matchLabels.length === 0 || (selector?.matchExpressions?.length ?? 0) > 0) return false;
  const labels = pod.metadata?.labels ?? {};
  return matchLabels.every(([key, value]) => labels[key] === value);
}

/**
 * The opted-in Deployments with pods on `nodeName`, read fresh (annotations and resourceVersion current),
 * at most `concurrency` reads at a time so they share kept-alive connections instead of opening one each.
 * A pod's Deployment is read by the name its ReplicaSet's name gives and kept when its selector selects
 * the pod; only other pods cost a ReplicaSet read, by ownerReferences.
 */
export async function affectedDeployments(
  kube: Kube,
  nodeName: string,
  scope: Scope,
  owners: ReplicaSetOwners,
  concurrency: number,
): Promise<V1Deployment[]> {
  const pods = (await podsOnNode(kube, nodeName, scope)).filter(holdsNode);
  const reads = new Map<string, Promise<V1Deployment | undefined>>();
  const read = (key: DeploymentRef) => {
    const id = keyOf(key);
    let pending = reads.get(id);
    if (pending === undefined) reads.set(id, (pending = readDeployment(kube, key)));
    return pending;
  };

  const found = new Map<string, V1Deployment>();
  const unresolved: V1Pod[] = [];
  await mapLimit(pods, concurrency, async (pod) => {
    const namespace = pod.metadata?.namespace;
    const name = deploymentNameOf(pod);
    const deployment = namespace && name ? await read({ namespace, name }) : undefined;
    if (deployment !== undefined && selects(deployment, pod)) found.set(`${namespace}/${name}`, deployment);
    else unresolved.push(pod);
  });
  const keys = await deploymentsOwning(unresolved, owners.ownerOf, concurrency);
  await mapLimit(keys, concurrency, async (key) => {
    const deployment = await read(key);
    if (deployment !== undefined) found.set(keyOf(key), deployment);
  });
  return [...found.values()].filter((d) => countsAsOptedIn(d, scope));
}

async function readDeployment(kube: Kube, key: DeploymentRef): Promise<V1Deployment | undefined> {
  try {
    return await kube.apps.readNamespacedDeployment(key);
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw classify(err, `read deployment ${keyOf(key)}`);
  }
}
