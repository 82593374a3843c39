// A second floor, for comparison only: the same sequential merge patches over one kept-alive connection,
// which shows what client-node's connection per request costs the watcher and the floor alike.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Fleet } from "./fleet.ts";
import { floorAnnotations } from "./floor.ts";
import { keepAliveClient } from "./keepAliveClient.ts";

export async function keepAliveFloorFlip(kc: KubeConfig, namespace: string, fleet: Fleet): Promise<number> {
  const client = await keepAliveClient(kc, 1);
  const base = `/apis/apps/v1/namespaces/${namespace}/deployments`;
  try {
    // opens the connection, untimed: this floor is about the requests, not the handshake
    await client.call("GET", `${base}/${fleet.deployments[0]}`);
    const body = { metadata: { annotations: floorAnnotations(fleet) } };
    const start = performance.now();
    for (const name of fleet.deployments) {
      await client.call(
        "PATCH",
        `${base}/${name}?fieldManager=bench-floor`,
        body,
        "application/merge-patch+json",
      );
    }
    return performance.now() - start;
  } finally {
    client.close();
  }
}
