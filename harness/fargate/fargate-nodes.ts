import { randomInt } from "node:crypto";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { ignoreNotFound } from "../cluster/api-errors.ts";
import { fargateComputeLabel, fargateNodeManifest } from "../cluster/nodes.ts";

// EKS runs each Fargate pod on a node of its own, made for it and gone with it. The emulator does the
// same: a node per admitted pod, swept once no pod uses it.

/** Marks the Fargate nodes the emulator made, so it only ever deletes its own. */
const createdByAnnotation = "test.spot-orchestrator.io/created-by";
const createdBy = "eks-fargate-emulator";

export async function createFargateNode(kc: KubeConfig, zones: readonly string[]): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const zone = zones[randomInt(zones.length)];
  for (let attempt = 0; ; attempt++) {
    const body = fargateNodeManifest({ zone, annotations: { [createdByAnnotation]: createdBy } });
    try {
      const node = await core.createNode({ body });
      return node.metadata?.name ?? "";
    } catch (err) {
      if (attempt > 5) throw err; // a clash of random addresses is the only expected failure
    }
  }
}

/**
 * Deletes emulator-made Fargate nodes no live pod is bound or pinned to. Nodes younger than `graceMs`
 * are kept: their pod may still be on its way through admission.
 */
export async function sweepFargateNodes(kc: KubeConfig, graceMs: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const nodes = await core.listNode({ labelSelector: `${fargateComputeLabel}=fargate` });
  const pods = await core.listPodForAllNamespaces({});
  const inUse = new Set<string>();
  for (const pod of pods.items) {
    if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") continue;
    if (pod.spec?.nodeName) inUse.add(pod.spec.nodeName);
    const pinned = pod.spec?.nodeSelector?.["kubernetes.io/hostname"];
    if (pinned) inUse.add(pinned);
  }
  for (const node of nodes.items) {
    const name = node.metadata?.name ?? "";
    const age = Date.now() - (node.metadata?.creationTimestamp?.getTime() ?? Date.now());
    const ours = node.metadata?.annotations?.[createdByAnnotation] === createdBy;
    if (ours && !inUse.has(name) && age >= graceMs) await ignoreNotFound(() => core.deleteNode({ name }));
  }
}
