// A spot interruption through the whole AWS side: the stack deployed in moto with CloudFormation, the warning
// put through EventBridge as AWS sends it (no instance-action-time), delivered by the stack's rule into its
// queue, and consumed by the watcher pointed at the stack's queue URL, which moves the opted-in Deployment off
// the node. The webhook and the watcher run as CLI processes against the real apiserver.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { SQSClient } from "@aws-sdk/client-sqs";
import { AppsV1Api, type V1Node } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { testKubeConfig, testKubeconfigPath } from "../cluster/kube.ts";
import { useNamespace } from "../cluster/namespace.ts";
import { addSpotNodes, instanceIdOf, terminateNode } from "../cluster/nodes.ts";
import { clusterDir } from "../cluster/paths.ts";
import { healthyOn, waitForAnnotations, waitForAvailable, waitForEmptyQueue } from "../e2e/support.ts";
import { optedInApp } from "../e2e/workloads.ts";
import { fargateProfiles } from "../fargate/profile-store.ts";
import { metricValue, startStack, type Stack } from "../stack/stack.ts";
import { awsEventFixture, drainQueue, putEvents } from "./eventBridge.ts";
import { startMoto, type Moto } from "./moto.ts";
import { deployStack, type DeployedStack } from "./stack.ts";

const kc = testKubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const ns = useNamespace("aws-interruption");
const pool = `aws-${randomBytes(3).toString("hex")}`;
const zone = "eu-west-1b";
const logDir = () => join(clusterDir, "logs", ns.name);

let moto: Moto;
let sqs: SQSClient;
let aws: DeployedStack;
let stack: Stack;
let watcherHealthPort: number;
let nodes: V1Node[] = [];

beforeAll(async () => {
  moto = await startMoto({ logDir: logDir(), region: "eu-west-1" });
  sqs = moto.client(SQSClient);
  aws = await deployStack(moto, `${ns.name}-spot-orchestrator`, {
    ClusterName: ns.name,
    ServiceAccountNamespace: ns.name,
    PodIdentity: "association",
  });
  await fargateProfiles(kc).add({
    name: `fp-${ns.name}`,
    selectors: [{ namespace: ns.name, labels: { "compute-type": "fargate" } }],
  });
  nodes = await addSpotNodes(kc, 1, { nodegroup: pool, zone });
  stack = await startStack({
    kc,
    kubeconfigPath: testKubeconfigPath(),
    namespace: ns.name,
    logDir: logDir(),
    watcher: false,
    watcherEnv: { RECOVERY_ENABLED: "false" },
  });
  // The region is given: the watcher does not take it from the queue URL.
  const watcher = await stack.startWatcher("watcher", {
    SQS_QUEUE_URL: aws.outputs["QueueUrl"]!,
    AWS_ENDPOINT_URL_SQS: moto.endpoint,
    AWS_REGION: moto.region,
  });
  watcherHealthPort = watcher.healthPort;
});

afterAll(async () => {
  await stack?.stop();
  sqs?.destroy();
  await moto?.stop();
  await fargateProfiles(kc).remove(`fp-${ns.name}`);
  await Promise.all(nodes.map((n) => terminateNode(kc, n.metadata?.name ?? "")));
});

describe("a spot interruption warning through EventBridge and the stack's queue", () => {
  it("moves the opted-in Deployment on the node to Fargate and leaves the others alone", async () => {
    const node = nodes[0]!;
    const nodeName = node.metadata!.name!;
    const instanceId = instanceIdOf(node);
    const web = optedInApp("web", 1, { "kubernetes.io/hostname": nodeName });
    const batch = optedInApp("batch", 1, { "kubernetes.io/hostname": nodeName });
    delete batch.metadata!.annotations;
    for (const body of [web, batch]) await apps.createNamespacedDeployment({ namespace: ns.name, body });
    await waitForAvailable(kc, ns.name, "web", 1);
    await waitForAvailable(kc, ns.name, "batch", 1);
    const batchBefore = await apps.readNamespacedDeployment({ namespace: ns.name, name: "batch" });

    // As AWS sends it: instance-id and instance-action only; EventBridge stamps the time.
    const warning = awsEventFixture("spot-interruption-warning");
    warning.detail["instance-id"] = instanceId;
    warning.resources = [`arn:aws:ec2:${zone}:instance/${instanceId}`];
    delete warning.time;
    expect(Object.keys(warning.detail).sort()).toEqual(["instance-action", "instance-id"]);
    await putEvents(moto, [warning]);

    const moved = await waitForAnnotations(kc, ns.name, "web", "healthy on Fargate", healthyOn("fargate"));
    expect(moved.metadata!.annotations).toMatchObject({
      [Annotation.reason]: "spot-interruption",
      [Annotation.interruptedNode]: `${nodeName} (${instanceId})`,
    });
    const batchAfter = await apps.readNamespacedDeployment({ namespace: ns.name, name: "batch" });
    expect(batchAfter.spec).toEqual(batchBefore.spec);

    const metrics = await stack.watcherMetrics(watcherHealthPort);
    expect(
      metricValue(metrics, "spot_orchestrator_events_received_total", {
        type: "spot-interruption",
        result: "handled",
      }),
    ).toBe(1);
    await waitForEmptyQueue(sqs, aws.outputs["QueueUrl"]!);
    expect(await drainQueue(sqs, aws.outputs["DeadLetterQueueUrl"]!)).toEqual([]);
  });
});
