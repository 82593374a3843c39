// What must hold when things break: the apiserver unreachable in the middle of an event, and the leader
// watcher dying with a second replica standing by.
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { join } from "node:path";
import { CoordinationV1Api, KubeConfig, type V1Node } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { testKubeConfig, testKubeconfigPath } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, instanceIdOf, terminateNode } from "../../harness/cluster/nodes.ts";
import { clusterDir } from "../../harness/cluster/paths.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { fargateProfiles } from "../../harness/fargate/profile-store.ts";
import { metricValue, startStack, type Stack } from "../../harness/stack/stack.ts";
import { clients, healthyOn, waitForAnnotations, waitForAvailable } from "../support/deployments.ts";
import { waitForEmptyQueue } from "../../harness/sqs/emptyQueue.ts";
import { optedInApp } from "../support/workloads.ts";

const kc = testKubeConfig();
const { apps } = clients(kc);
const coordination = kc.makeApiClient(CoordinationV1Api);
const ns = useNamespace("e2e-reliability");
const suffix = randomBytes(3).toString("hex");
const nodes: V1Node[] = [];
let stack: Stack;
let proxy: ApiserverProxy;

beforeAll(async () => {
  await fargateProfiles(kc).add({
    name: `fp-${ns.name}`,
    selectors: [{ namespace: ns.name, labels: { "compute-type": "fargate" } }],
  });
  proxy = await startApiserverProxy(testKubeconfigPath());
  // The first watcher reaches the apiserver through a proxy the test can cut.
  stack = await startStack({
    kc,
    kubeconfigPath: proxy.kubeconfigPath,
    namespace: ns.name,
    logDir: join(clusterDir, "logs", ns.name),
    watcherEnv: { RECOVERY_ENABLED: "false" },
  });
});

afterAll(async () => {
  await stack?.stop();
  await proxy?.close();
  await fargateProfiles(kc).remove(`fp-${ns.name}`);
  await Promise.all(nodes.map((n) => terminateNode(kc, n.metadata?.name ?? "")));
});

async function appOnNewNode(name: string): Promise<V1Node> {
  const [node] = await addSpotNodes(kc, 1, { nodegroup: `${name}-${suffix}` });
  nodes.push(node!);
  await apps.createNamespacedDeployment({
    namespace: ns.name,
    body: optedInApp(name, 1, { "eks.amazonaws.com/nodegroup": `${name}-${suffix}` }),
  });
  await waitForAvailable(kc, ns.name, name, 1);
  return node!;
}

describe("when the apiserver is unreachable mid-event", () => {
  it("leaves the message to come back and flips exactly once when it is reachable again", async () => {
    const node = await appOnNewNode("outage");
    proxy.cut();
    await stack.send(
      buildEventBridgeEvent({
        kind: "spot-interruption",
        instanceId: instanceIdOf(node),
        region: "eu-west-1",
      }),
    );
    await waitFor(
      "the watcher to fail the event and leave it for a retry",
      async () =>
        metricValue(await stack.watcherMetrics(), "spot_orchestrator_events_received_total", {
          result: "retry",
        }) >= 1,
    );
    expect(
      (await apps.readNamespacedDeployment({ namespace: ns.name, name: "outage" })).metadata?.annotations?.[
        Annotation.compute
      ],
    ).toBeUndefined();

    proxy.restore();
    await waitForAnnotations(
      kc,
      ns.name,
      "outage",
      "healthy on fargate after the outage",
      healthyOn("fargate"),
    );
    await waitForEmptyQueue(stack.sqsClient, stack.queueUrl);
    const metrics = await stack.watcherMetrics();
    expect(metricValue(metrics, "spot_orchestrator_deployments_flipped_total")).toBe(1);
    expect(metricValue(metrics, "spot_orchestrator_events_received_total", { result: "handled" })).toBe(1);
  });
});

describe("when the leader dies", () => {
  it("a standby replica takes over within about 15 s and handles the next event", async () => {
    const standby = await stack.startWatcher("watcher-2", { KUBECONFIG: testKubeconfigPath() });
    const lease = () =>
      coordination.readNamespacedLease({ namespace: ns.name, name: "spot-fargate-orchestrator" });
    expect((await lease()).spec?.holderIdentity).toBe("watcher");

    stack.watcher!.child.kill("SIGKILL");
    const killedAt = Date.now();
    await waitFor(
      "the standby to hold the lease",
      async () => (await lease()).spec?.holderIdentity === "watcher-2",
      { timeoutMs: 30_000 },
    );
    const takeover = Date.now() - killedAt;
    expect(takeover).toBeLessThan(25_000); // lease 15 s + retry 2 s, with room for a loaded machine

    const node = await appOnNewNode("failover");
    await stack.send(
      buildEventBridgeEvent({
        kind: "spot-interruption",
        instanceId: instanceIdOf(node),
        region: "eu-west-1",
      }),
    );
    await waitForAnnotations(
      kc,
      ns.name,
      "failover",
      "healthy on fargate via the new leader",
      healthyOn("fargate"),
    );
    expect(metricValue(await stack.watcherMetrics(standby.healthPort), "spot_orchestrator_is_leader")).toBe(
      1,
    );
  });
});

interface ApiserverProxy {
  kubeconfigPath: string;
  /** Drops every connection and refuses new ones, as an unreachable apiserver would. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A TCP proxy in front of the apiserver, and a copy of the kubeconfig that goes through it. */
async function startApiserverProxy(kubeconfigPath: string): Promise<ApiserverProxy> {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const target = new URL(config.getCurrentCluster()!.server);
  const sockets = new Set<Socket>();
  let open = true;
  const server: Server = createServer((client) => {
    if (!open) return void client.destroy();
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  const dir = join(clusterDir, "proxy");
  mkdirSync(dir, { recursive: true });
  const proxied = join(dir, `kubeconfig-${address.port}`);
  const text = readFileSync(kubeconfigPath, "utf8").replaceAll(target.host, `127.0.0.1:${address.port}`);
  writeFileSync(proxied, text);
  const cut = () => {
    open = false;
    for (const s of sockets) s.destroy();
  };
  return {
    kubeconfigPath: proxied,
    cut,
    restore() {
      open = true;
    },
    async close() {
      cut();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
