// A spot interruption end to end: SQS emulator → watcher process → annotation flip → webhook process →
// real rollout onto emulated Fargate nodes → health verified → node terminated. Real apiserver throughout.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { AppsV1Api, CoreV1Api, EventsV1Api, type V1Node } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { buildEventBridgeEvent, wrapInSnsNotification } from "../../watcher/sqs/eventBuilder.ts";
import { testKubeConfig, testKubeconfigPath } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, instanceIdOf, terminateNode } from "../../harness/cluster/nodes.ts";
import { clusterDir } from "../../harness/cluster/paths.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { fargateProfiles } from "../../harness/fargate/profile-store.ts";
import { metricValue, startStack, type Stack } from "../../harness/stack/stack.ts";
import { optedInApp, serviceFor } from "../support/workloads.ts";
import { podsOf, readyEndpoints, sampleReadyEndpoints, waitForAvailable } from "../support/deployments.ts";
import { startSlackReceiver, type SlackReceiver } from "../support/slackReceiver.ts";
import { waitForEmptyQueue } from "../../harness/sqs/emptyQueue.ts";

const kc = testKubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
const events = kc.makeApiClient(EventsV1Api);

const ns = useNamespace("e2e-interruption");
const pool = `e2e-${randomBytes(3).toString("hex")}`;
let nodes: V1Node[] = [];
let stack: Stack;
let slack: SlackReceiver;

beforeAll(async () => {
  slack = await startSlackReceiver();
  await fargateProfiles(kc).add({
    name: `fp-${ns.name}`,
    selectors: [{ namespace: ns.name, labels: { "compute-type": "fargate" } }],
  });
  nodes = await addSpotNodes(kc, 2, { nodegroup: pool, zone: "eu-west-1a" });
  stack = await startStack({
    kc,
    kubeconfigPath: testKubeconfigPath(),
    namespace: ns.name,
    logDir: join(clusterDir, "logs", ns.name),
    watcherEnv: { SLACK_WEBHOOK_URL: slack.url, RECOVERY_ENABLED: "false" },
  });
});

afterAll(async () => {
  await stack?.stop();
  await fargateProfiles(kc).remove(`fp-${ns.name}`);
  await Promise.all(nodes.map((n) => terminateNode(kc, n.metadata?.name ?? "")));
  await slack?.close();
});

const name = (n: V1Node) => n.metadata?.name ?? "";

describe("a spot interruption", () => {
  it("moves the opted-in Deployments on the node to Fargate, healthy, and leaves the others alone", async () => {
    const x = nodes[0]!;
    // web: opted in, one replica on x, behind a Service; api: opted in, one replica on each node; batch: not opted in.
    const web = optedInApp("web", 1, { "kubernetes.io/hostname": name(x) });
    const api = optedInApp("api", 2, { "eks.amazonaws.com/nodegroup": pool }, { spreadOverNodes: true });
    const batch = optedInApp("batch", 1, { "kubernetes.io/hostname": name(x) });
    delete batch.metadata!.annotations;
    for (const d of [web, api, batch]) await apps.createNamespacedDeployment({ namespace: ns.name, body: d });
    await core.createNamespacedService({ namespace: ns.name, body: serviceFor("web") });
    for (const d of ["web", "api", "batch"]) await waitForAvailable(kc, ns.name, d, d === "api" ? 2 : 1);
    await waitFor("web's endpoint", async () => (await readyEndpoints(kc, ns.name, "web")) === 1);
    const batchBefore = await apps.readNamespacedDeployment({ namespace: ns.name, name: "batch" });

    const sampler = sampleReadyEndpoints(kc, ns.name, "web");
    const event = buildEventBridgeEvent({
      kind: "spot-interruption",
      instanceId: instanceIdOf(x),
      region: "eu-west-1",
    });
    await stack.send(event);

    for (const d of ["web", "api"]) {
      const moved = await waitFor(
        `${d} healthy on fargate`,
        async () => {
          const dep = await apps.readNamespacedDeployment({ namespace: ns.name, name: d });
          const a = dep.metadata?.annotations ?? {};
          if (a[Annotation.rollout]?.startsWith("failed")) throw new Error(`${d}: ${a[Annotation.rollout]}`);
          return a[Annotation.rollout] === "healthy" ? dep : undefined;
        },
        { timeoutMs: 90_000 },
      );
      const a = moved.metadata!.annotations!;
      expect(a[Annotation.compute]).toBe("fargate");
      expect(a[Annotation.reason]).toBe("spot-interruption");
      expect(a[Annotation.interruptedNode]).toBe(`${name(x)} (${instanceIdOf(x)})`);
      expect(a[Annotation.changedAt]).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(moved.metadata!.labels!["spot-orchestrator.io/compute"]).toBe("fargate");
      expect(moved.spec!.template.metadata!.labels!["compute-type"]).toBe("fargate");
      expect(JSON.parse(a[Annotation.spotPlacement]!)).toMatchObject({
        nodeSelector: (d === "web" ? web : api).spec!.template.spec!.nodeSelector,
      });
      for (const pod of await podsOf(kc, ns.name, d)) {
        const node = await core.readNode({ name: pod.spec!.nodeName! });
        expect(node.metadata?.labels?.["eks.amazonaws.com/compute-type"]).toBe("fargate");
      }
    }
    const minReady = await sampler.stop();
    expect(minReady).toBeGreaterThanOrEqual(1);

    const batchAfter = await apps.readNamespacedDeployment({ namespace: ns.name, name: "batch" });
    expect(batchAfter.metadata?.annotations ?? {}).toEqual(batchBefore.metadata?.annotations ?? {});
    expect(batchAfter.spec).toEqual(batchBefore.spec);
    expect((await podsOf(kc, ns.name, "batch")).map((p) => p.spec?.nodeName)).toEqual([name(x)]);

    const reasons = (await events.listNamespacedEvent({ namespace: ns.name })).items
      .filter((e) => e.regarding?.name === "web")
      .map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(["MigratingToFargate", "MigratedToFargate"]));

    const metrics = await stack.watcherMetrics();
    expect(metricValue(metrics, "spot_orchestrator_deployments_flipped_total", { compute: "fargate" })).toBe(
      2,
    );
    await waitFor(
      "Slack interruption and summary messages",
      () => slack.messages.length >= 2 && slack.messages,
      { timeoutMs: 30_000 },
    );
    expect(slack.messages[0]!.text).toContain(name(x));
    await waitForEmptyQueue(stack.sqsClient, stack.queueUrl);

    // The instance goes away; the workloads already live elsewhere.
    await terminateNode(kc, name(x));
    await waitForAvailable(kc, ns.name, "web", 1);
    await waitForAvailable(kc, ns.name, "api", 2);
  });

  it("deletes duplicate, redelivered, malformed, foreign and unknown messages without a second migration", async () => {
    const before = await stack.watcherMetrics();
    const flipped = metricValue(before, "spot_orchestrator_deployments_flipped_total");
    const y = nodes[1]!;
    const event = buildEventBridgeEvent({
      kind: "spot-interruption",
      instanceId: instanceIdOf(y),
      region: "eu-west-1",
    });
    await stack.send(event);
    await stack.send(wrapInSnsNotification(event)); // the same event again, through SNS
    await stack.send("{not json");
    await stack.send({
      ...event,
      id: "foreign-1",
      detail: { ...event.detail, "instance-id": "i-0123456789abcdef0" },
    });
    await stack.send({ ...event, id: "unknown-1", "detail-type": "EC2 Fleet Error" });
    await waitForEmptyQueue(stack.sqsClient, stack.queueUrl);
    const after = await stack.watcherMetrics();
    // api is already on fargate, so the interruption of y flips nothing new, and the duplicate changes nothing.
    expect(metricValue(after, "spot_orchestrator_deployments_flipped_total")).toBe(flipped);
    const received = (result: string) =>
      metricValue(after, "spot_orchestrator_events_received_total", { result }) -
      metricValue(before, "spot_orchestrator_events_received_total", { result });
    expect(received("unparseable")).toBe(1);
    expect(received("foreign-instance")).toBe(1);
    expect(received("unknown-type")).toBe(1);
    expect(received("handled") + received("duplicate")).toBe(2);
  });
});
