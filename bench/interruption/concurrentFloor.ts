// The floor the watcher is held to: the same N merge patches sent all at once by a bare client over kept-alive
// connections (one per patch, opened before the clock starts), through the same admission webhooks: the
// best the apiserver does on this machine.
import type { KubeConfig, V1Deployment } from "@kubernetes/client-node";
import type { Fleet } from "./fleet.ts";
import { assertOn, floorAnnotations } from "./floor.ts";
import { keepAliveClient } from "./keepAliveClient.ts";

export async function concurrentFloorFlip(kc: KubeConfig, namespace: string, fleet: Fleet): Promise<number> {
  const { deployments } = fleet;
  const client = await keepAliveClient(kc, deployments.length);
  const base = `/apis/apps/v1/namespaces/${namespace}/deployments`;
  try {
    // opens the connections, untimed: this floor is about the requests, not the handshakes
    await Promise.all(deployments.map((name) => client.call("GET", `${base}/${name}`)));
    const body = { metadata: { annotations: floorAnnotations(fleet) } };
    const start = performance.now();
    const stored = await Promise.all(
      deployments.map((name) =>
        client.call(
          "PATCH",
          `${base}/${name}?fieldManager=bench-floor`,
          body,
          "application/merge-patch+json",
        ),
      ),
    );
    const elapsed = performance.now() - start;
    for (const deployment of stored) assertOn(deployment as V1Deployment, "fargate");
    return elapsed;
  } finally {
    client.close();
  }
}
