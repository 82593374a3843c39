// Kubernetes Events as a user finds them, and a Pod standing for a watcher process's own, for Events about it.
import type { CoreV1Event, KubeConfig } from "@kubernetes/client-node";
import { clients } from "./deployments.ts";

/** Events as `kubectl describe` finds them: core/v1, by the object's name, namespace, kind and uid. */
export async function describedEvents(
  kc: KubeConfig,
  object: { kind: string; namespace: string; name: string; uid: string },
): Promise<CoreV1Event[]> {
  const { kind, namespace, name, uid } = object;
  const fieldSelector = [
    `involvedObject.kind=${kind}`,
    `involvedObject.namespace=${namespace}`,
    `involvedObject.name=${name}`,
    `involvedObject.uid=${uid}`,
  ].join(",");
  return (await clients(kc).core.listNamespacedEvent({ namespace, fieldSelector })).items;
}

/** A Pod object standing for a watcher process's pod (its POD_NAME and POD_UID); never scheduled. */
export async function watcherPod(
  kc: KubeConfig,
  namespace: string,
  name: string,
): Promise<{ name: string; uid: string }> {
  const pod = await clients(kc).core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        nodeSelector: { "kubernetes.io/hostname": "no-such-node" },
        containers: [{ name: "watcher", image: "registry.k8s.io/pause:3.10" }],
      },
    },
  });
  return { name, uid: pod.metadata!.uid! };
}
