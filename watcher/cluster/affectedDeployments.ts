// The Deployments an interruption of a node affects: node → pods → ReplicaSets → Deployments, by
// ownerReferences, keeping only the opted-in Deployments. Pods and Deployments come from the watcher's
// indexes; only a ReplicaSet not named after its Deployment is read (once).
import type { V1Deployment, V1OwnerReference, V1Pod, V1ReplicaSet } from "@kubernetes/client-node";
import { classify, statusOf, type Kube } from "../../core/kube.ts";
import { isEmptySelector, selectorMatches } from "../../core/labelSelector.ts";
import { mapLimit } from "../../core/mapLimit.ts";
import { keyOf, type DeploymentRef } from "../moves/deployments.ts";
import type { DeploymentLookup } from "./deploymentIndex.ts";
import type { PodLookup } from "./podIndex.ts";
import { controllerOf, holdsNode } from "./pods.ts";
import { countsAsOptedIn, type OptInScope } from "../../core/contract.ts";

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

/** Whether the Deployment's selector selects the pod; an empty selector (which the apiserver refuses) never does. */
export function selects(deployment: V1Deployment, pod: V1Pod): boolean {
  const selector = deployment.spec?.selector;
  if (selector === undefined || isEmptySelector(selector)) return false;
  return selectorMatches(selector, pod.metadata?.labels ?? {});
}

/** What finding the affected Deployments looks in: the watcher's indexes, and the ReplicaSet owners. */
export interface AffectedLookups {
  pods: PodLookup;
  deployments: Pick<DeploymentLookup, "get">;
  owners: Pick<ReplicaSetOwners, "ownerOf">;
  scope: OptInScope;
}

/**
 * The opted-in Deployments with pods on `nodeName`, as the watcher's indexes last saw them: no apiserver
 * round trip per pod. A pod's Deployment is looked up by the name its ReplicaSet's name gives and kept when
 * its selector selects the pod; only other pods cost a ReplicaSet read (once per ReplicaSet, then cached).
 */
export async function affectedDeployments(
  nodeName: string,
  lookups: AffectedLookups,
  concurrency: number,
): Promise<V1Deployment[]> {
  const { pods, deployments, owners, scope } = lookups;
  const watched = (pod: V1Pod) =>
    scope.namespaces.length === 0 || scope.namespaces.includes(pod.metadata?.namespace ?? "");
  const found = new Map<string, V1Deployment>();
  const unresolved: V1Pod[] = [];
  for (const pod of pods.onNode(nodeName)) {
    if (!holdsNode(pod) || !watched(pod)) continue;
    const namespace = pod.metadata?.namespace;
    const name = deploymentNameOf(pod);
    const deployment = namespace && name ? deployments.get({ namespace, name }) : undefined;
    if (deployment !== undefined && selects(deployment, pod)) found.set(`${namespace}/${name}`, deployment);
    else unresolved.push(pod);
  }
  for (const ref of await deploymentsOwning(unresolved, owners.ownerOf, concurrency)) {
    const deployment = deployments.get(ref);
    if (deployment !== undefined) found.set(keyOf(ref), deployment);
  }
  return [...found.values()].filter((d) => countsAsOptedIn(d, scope));
}
