// Between the storm's runs: the targets back on spot as before the first, with nothing left of the moves the
// watcher started and never finished (paused Deployments never roll out): compute=spot as a person sets it
// (the webhook puts the stashed placement back), the move's annotations removed, the Deployment's own
// strategy back from its stash, and the drain guards deleted.
import { AppsV1Api, PolicyV1Api, type KubeConfig } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { mapLimit } from "../../core/mapLimit.ts";
import { stashedStrategy } from "../../core/moveStrategy.ts";
import { GUARD_LABEL } from "../../watcher/moves/drainGuard.ts";
import { assertOn } from "../interruption/floor.ts";
import { mergePatch } from "../interruption/fleet.ts";

const MOVE_ANNOTATIONS = [
  Annotation.reason,
  Annotation.interruptedNode,
  Annotation.rollout,
  Annotation.interruptedAt,
  Annotation.deadline,
  Annotation.strategy,
] as const;

export async function backToSpot(kc: KubeConfig, namespace: string, names: string[]): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  await mapLimit(names, 10, async (name) => {
    const current = await apps.readNamespacedDeployment({ namespace, name });
    const strategy = stashedStrategy(current);
    const annotations = {
      [Annotation.compute]: "spot",
      ...Object.fromEntries(MOVE_ANNOTATIONS.map((key) => [key, null])),
    };
    const stored = await apps.patchNamespacedDeployment(
      {
        namespace,
        name,
        body: { metadata: { annotations }, ...(strategy ? { spec: { strategy } } : {}) },
        fieldManager: "bench-floor",
      },
      mergePatch,
    );
    assertOn(stored, "spot");
  });
  await kc
    .makeApiClient(PolicyV1Api)
    .deleteCollectionNamespacedPodDisruptionBudget({ namespace, labelSelector: GUARD_LABEL });
}
