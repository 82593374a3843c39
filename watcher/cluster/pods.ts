// Small facts about pods the watcher's rules share.
import type { V1ObjectMeta, V1OwnerReference, V1Pod } from "@kubernetes/client-node";

/** The owner reference with `controller: true` of the given kind, if any. */
export function controllerOf(metadata: V1ObjectMeta | undefined, kind: string): V1OwnerReference | undefined {
  return metadata?.ownerReferences?.find((ref) => ref.controller === true && ref.kind === kind);
}

/** Whether the pod still holds its node (and its requests there): finished ones (Succeeded, Failed) do not. */
export function holdsNode(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== "Succeeded" && phase !== "Failed";
}

export function isPodReady(pod: V1Pod): boolean {
  return (
    pod.metadata?.deletionTimestamp === undefined &&
    pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true
  );
}
