// One benchmark run's objects: a fresh spot node and N opted-in one-replica Deployments whose pods sit on
// it. Once the pods are bound the Deployments are paused, so a flip (and the template change the webhook
// makes) starts no rollout: runs stay independent and no pods spill onto other runs' nodes. A run that
// times the move itself resumes them: their pods then go to Fargate, where the run's profile sends them.
import {
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Node,
} from "@kubernetes/client-node";
import { mapLimit } from "../../core/mapLimit.ts";
import { ignoreNotFound } from "../../harness/cluster/api-errors.ts";
import { addNode, instanceIdOf } from "../../harness/cluster/nodes.ts";
import { benchNodeManifest, pinnedDeployment, runLabel } from "./manifests.ts";
import { pollUntil } from "./pollUntil.ts";

export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export interface Fleet {
  run: string;
  node: V1Node;
  nodeName: string;
  instanceId: string;
  deployments: string[];
  labelSelector: string;
}

export async function createFleet(
  kc: KubeConfig,
  namespace: string,
  run: string,
  count: number,
  replicas = 1,
): Promise<Fleet> {
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  // kwok may take a while to report a new node Ready in a cluster loaded with thousands of objects
  const node = await addNode(kc, () => benchNodeManifest(Math.max(120, count * replicas + 20)), 180_000);
  const nodeName = node.metadata?.name ?? "";
  const deployments = Array.from({ length: count }, (_, i) => `${run}-${String(i).padStart(3, "0")}`);
  const labelSelector = `${runLabel}=${run}`;
  await mapLimit(deployments, 20, (name) =>
    apps.createNamespacedDeployment({ namespace, body: pinnedDeployment(name, nodeName, run, replicas) }),
  );
  const pods = count * replicas;
  let bound = 0;
  await pollUntil(
    `${pods} pods of run ${run} bound to ${nodeName}`,
    async () => {
      const list = await core.listNamespacedPod({
        namespace,
        labelSelector,
        fieldSelector: `spec.nodeName=${nodeName}`,
      });
      bound = list.items.length;
      return bound === pods;
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message} (${bound} bound)`, { cause: err });
  });
  await mapLimit(deployments, 20, (name) =>
    apps.patchNamespacedDeployment({ namespace, name, body: { spec: { paused: true } } }, mergePatch),
  );
  return { run, node, nodeName, instanceId: instanceIdOf(node), deployments, labelSelector };
}

/** Unpauses the fleet's Deployments and waits until the Deployment controller has seen each unpaused. */
export async function resumeFleet(kc: KubeConfig, namespace: string, fleet: Fleet): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  await mapLimit(fleet.deployments, 20, (name) =>
    apps.patchNamespacedDeployment({ namespace, name, body: { spec: { paused: false } } }, mergePatch),
  );
  await pollUntil(
    `the Deployment controller to see run ${fleet.run} unpaused`,
    async () => {
      const list = await apps.listNamespacedDeployment({ namespace, labelSelector: fleet.labelSelector });
      return list.items.every(
        (d) =>
          d.spec?.paused !== true && (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1),
      );
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

/** Deletes the run's Deployments, their pods (at once: no kubelet waits on them) and its node. */
export async function deleteFleet(kc: KubeConfig, namespace: string, fleet: Fleet): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  await apps.deleteCollectionNamespacedDeployment({
    namespace,
    labelSelector: fleet.labelSelector,
    propagationPolicy: "Background",
  });
  // the ReplicaSets carry the run label too; deleting them now keeps them from replacing the pods below
  await apps.deleteCollectionNamespacedReplicaSet({ namespace, labelSelector: fleet.labelSelector });
  await core.deleteCollectionNamespacedPod({
    namespace,
    labelSelector: fleet.labelSelector,
    gracePeriodSeconds: 0,
  });
  await ignoreNotFound(() => core.deleteNode({ name: fleet.nodeName }));
}
