// The node index against the real apiserver: it follows nodes coming and going, and recovers by itself
// when its connection to the apiserver breaks (the informer is replaced with backoff).
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { NodeIndex } from "../../watcher/cluster/nodeIndex.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { addSpotNodes, instanceIdOf, removeNode } from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { testKube } from "../support/watcherParts.ts";
import { quietLog } from "../support/log.ts";
import { CoreV1Api, KubeConfig, type V1Node } from "@kubernetes/client-node";

const kc = testKubeConfig();
const added: V1Node[] = [];

afterAll(async () => {
  await Promise.all(added.map((n) => removeNode(kc, n.metadata?.name ?? "")));
});

async function addNode(): Promise<V1Node> {
  const [node] = await addSpotNodes(kc, 1, { nodegroup: "node-index" });
  added.push(node!);
  return node!;
}

/** A TCP relay to the apiserver that a test can cut and restore, as a network failure would. */
async function relay(target: URL): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    server = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", resolve));
    port = (server!.address() as AddressInfo).port;
  };
  await listen();
  return {
    port,
    async cut() {
      await new Promise<void>((resolve) => {
        server?.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    restore: listen,
  };
}

describe("node index", () => {
  it("finds nodes by instance id and name as they come and go", async () => {
    const index = new NodeIndex({ kube: testKube(), log: quietLog });
    index.start();
    try {
      await index.synced;
      const node = await addNode();
      const name = node.metadata?.name ?? "";
      const found = await waitFor("the new node in the index", () => index.byInstanceId(instanceIdOf(node)));
      expect(found.metadata?.name).toBe(name);
      expect(index.byName(name)?.spec?.providerID).toBe(node.spec?.providerID);
      expect(index.all().map((n) => n.metadata?.name)).toContain(name);

      await removeNode(kc, name);
      await waitFor(
        "the removed node to leave the index",
        () => index.byInstanceId(instanceIdOf(node)) === undefined,
      );
      expect(index.byName(name)).toBeUndefined();
    } finally {
      await index.stop();
    }
  });

  it("recovers after its connection to the apiserver breaks", async () => {
    const server = new URL(kc.getCurrentCluster()?.server ?? "");
    const link = await relay(server);
    // the same credentials, through the relay
    const config = new KubeConfig();
    config.loadFromString(kc.exportConfig());
    const current = config.getCurrentCluster()?.name;
    config.clusters = config.clusters.map((c) =>
      c.name === current ? { ...c, server: `https://127.0.0.1:${link.port}` } : c,
    );
    const relayed = { ...testKube(), config, core: config.makeApiClient(CoreV1Api) };
    const index = new NodeIndex({ kube: relayed, log: quietLog, backoff: { initialMs: 200, maxMs: 1_000 } });
    index.start();
    try {
      await index.synced;
      await link.cut();
      const node = await addNode();
      await link.restore();
      await waitFor("the node added while cut off", () => index.byInstanceId(instanceIdOf(node)), {
        timeoutMs: 20_000,
      });
    } finally {
      await index.stop();
      await link.cut();
    }
  });
});
