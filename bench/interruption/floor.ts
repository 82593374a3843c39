// The flip's one essential write, a merge patch of the same annotations the watcher sets, here sent by this
// process one Deployment after another (the sequential floor, for reference; concurrentFloor.ts is the one
// the watcher is held to). The patches pass the same admission webhooks as the watcher's (same namespace,
// opted in), so the webhook's template mutation is inside every figure.
import { AppsV1Api, type KubeConfig, type V1Deployment } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { mapLimit } from "../../core/mapLimit.ts";
import { interruptedNodeValue } from "../../watcher/migration/plan.ts";
import { mergePatch, type Fleet } from "./fleet.ts";

/** The annotations the watcher writes on a spot interruption of the fleet's node. */
export function floorAnnotations(fleet: Pick<Fleet, "nodeName" | "instanceId">): Record<string, string> {
  return {
    [Annotation.compute]: "fargate",
    [Annotation.reason]: "spot-interruption",
    [Annotation.interruptedNode]: interruptedNodeValue(fleet.nodeName, fleet.instanceId),
    [Annotation.rollout]: "progressing",
  };
}

/** Milliseconds for all of the fleet's Deployments to be flipped to fargate by sequential patches. */
export async function floorFlip(kc: KubeConfig, namespace: string, fleet: Fleet): Promise<number> {
  const apps = kc.makeApiClient(AppsV1Api);
  const annotations = floorAnnotations(fleet);
  const stored: V1Deployment[] = [];
  const start = performance.now();
  for (const name of fleet.deployments) {
    stored.push(
      await apps.patchNamespacedDeployment(
        { namespace, name, body: { metadata: { annotations } }, fieldManager: "bench-floor" },
        mergePatch,
      ),
    );
  }
  const elapsed = performance.now() - start;
  for (const d of stored) assertOn(d, "fargate");
  return elapsed;
}

/** Back to spot, as a person would move it (the webhook restores the stashed placement). Not timed. */
export async function resetToSpot(
  kc: KubeConfig,
  namespace: string,
  fleet: Pick<Fleet, "deployments">,
): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const annotations = {
    [Annotation.compute]: "spot",
    [Annotation.reason]: null,
    [Annotation.interruptedNode]: null,
    [Annotation.rollout]: null,
  };
  const stored = await mapLimit(fleet.deployments, 10, (name) =>
    apps.patchNamespacedDeployment(
      { namespace, name, body: { metadata: { annotations } }, fieldManager: "bench-floor" },
      mergePatch,
    ),
  );
  for (const d of stored) assertOn(d, "spot");
}

/** Fails unless the webhook really rewrote the template for `compute` (so it was in the path). */
export function assertOn(deployment: V1Deployment, compute: "spot" | "fargate"): void {
  const name = deployment.metadata?.name;
  const annotation = deployment.metadata?.annotations?.[Annotation.compute];
  const template = deployment.spec?.template;
  const onFargate =
    template?.metadata?.labels?.["compute-type"] === "fargate" && template.spec?.nodeSelector === undefined;
  if (annotation !== compute || onFargate !== (compute === "fargate")) {
    throw new Error(
      `${name}: compute=${annotation}, template ${onFargate ? "on fargate" : "on spot"}; expected ${compute} ` +
        "(is the webhook registered for the namespace?)",
    );
  }
}
