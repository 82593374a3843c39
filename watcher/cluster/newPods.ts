// A Deployment's current revision: its ReplicaSet and that ReplicaSet's pods, read from the apiserver.
import type { V1Deployment, V1Pod, V1ReplicaSet } from "@kubernetes/client-node";
import type { Kube } from "../../core/kube.ts";
import { selectorString } from "../../core/labelSelector.ts";
import { controllerOf } from "./pods.ts";

const REVISION = "deployment.kubernetes.io/revision";
const POD_TEMPLATE_HASH = "pod-template-hash";

/** The ReplicaSet of the Deployment's current revision. */
export function newReplicaSet(
  deployment: V1Deployment,
  replicaSets: V1ReplicaSet[],
): V1ReplicaSet | undefined {
  const uid = deployment.metadata?.uid;
  const revision = deployment.metadata?.annotations?.[REVISION];
  return replicaSets.find(
    (rs) =>
      controllerOf(rs.metadata, "Deployment")?.uid === uid &&
      revision !== undefined &&
      rs.metadata?.annotations?.[REVISION] === revision,
  );
}

/** The pods of the Deployment's current revision; undefined while its ReplicaSet is not there yet. */
export async function newPods(kube: Kube, deployment: V1Deployment): Promise<V1Pod[] | undefined> {
  const namespace = deployment.metadata?.namespace ?? "";
  const selector = selectorString(deployment.spec?.selector);
  const replicaSets = (await kube.apps.listNamespacedReplicaSet({ namespace, labelSelector: selector }))
    .items;
  const current = newReplicaSet(deployment, replicaSets);
  if (current === undefined) return undefined;
  const hash = current.metadata?.labels?.[POD_TEMPLATE_HASH] ?? "";
  const labelSelector = [selector, `${POD_TEMPLATE_HASH}=${hash}`].filter(Boolean).join(",");
  return (await kube.core.listNamespacedPod({ namespace, labelSelector })).items.filter(
    (pod) => controllerOf(pod.metadata, "ReplicaSet")?.uid === current.metadata?.uid,
  );
}
