// Events through the whole AWS side: the stack deployed in moto with CloudFormation, a spot interruption
// warning as AWS sends it (no instance-action-time), an AWS Health scheduled retirement and an Auto Scaling
// termination lifecycle action put through EventBridge, delivered by the stack's rules into its queue, and
// consumed by the watcher pointed at the stack's queue URL (its region taken from the URL), which moves the
// opted-in Deployment off the node. The webhook and the watcher run as CLI processes against the real apiserver.
// And a lifecycle hook whose notification target is the stack's queue itself (AWS Node Termination Handler's
// setup): its notification sent to the queue as Auto Scaling sends it, and the same action through the stack's
// EventBridge rule, as Auto Scaling emits it there too.
//
// moto 5.2.5 keeps Auto Scaling groups and lifecycle hooks but answers CompleteLifecycleAction with HTTP 500
// (not implemented; the test checks that it still does): the watcher's Auto Scaling endpoint is a recording
// stand-in that answers that one call as AWS documents it, and the test asserts what the watcher sent.
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  CreateAutoScalingGroupCommand,
  CreateLaunchConfigurationCommand,
  PutLifecycleHookCommand,
} from "@aws-sdk/client-auto-scaling";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { AppsV1Api, type V1Node } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { testKubeConfig, testKubeconfigPath } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, instanceIdOf, terminateNode } from "../../harness/cluster/nodes.ts";
import { clusterDir } from "../../harness/cluster/paths.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { healthyOn, waitForAnnotations, waitForAvailable } from "../support/deployments.ts";
import { waitForEmptyQueue } from "../../harness/sqs/emptyQueue.ts";
import { optedInApp } from "../support/workloads.ts";
import { fargateProfiles } from "../../harness/fargate/profile-store.ts";
import { metricValue, startStack, type Stack } from "../../harness/stack/stack.ts";
import { awsEventFixture, drainQueue, putEvents } from "./eventBridge.ts";
import { startLifecycleStandIn, type LifecycleStandIn } from "./lifecycleStandIn.ts";
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
let autoScaling: LifecycleStandIn;

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
  nodes = await addSpotNodes(kc, 4, { nodegroup: pool, zone });
  autoScaling = await startLifecycleStandIn();
  stack = await startStack({
    kc,
    kubeconfigPath: testKubeconfigPath(),
    namespace: ns.name,
    logDir: logDir(),
    watcher: false,
    watcherEnv: { RECOVERY_ENABLED: "false" },
  });
  // No region given: the watcher takes it from the queue URL (https://sqs.eu-west-1.amazonaws.com/...).
  const watcher = await stack.startWatcher("watcher", {
    SQS_QUEUE_URL: aws.outputs["QueueUrl"]!,
    AWS_ENDPOINT_URL_SQS: moto.endpoint,
    AWS_ENDPOINT_URL_AUTO_SCALING: autoScaling.endpoint,
    AWS_REGION: "",
  });
  watcherHealthPort = watcher.healthPort;
});

afterAll(async () => {
  await stack?.stop();
  await autoScaling?.close();
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

describe("an AWS Health scheduled retirement through EventBridge and the stack's queue", () => {
  it("moves the opted-in Deployment on the instance to Fargate with reason scheduled-change", async () => {
    const node = nodes[1]!;
    const instanceId = instanceIdOf(node);
    const app = optedInApp("retiring", 1, { "kubernetes.io/hostname": node.metadata!.name! });
    await apps.createNamespacedDeployment({ namespace: ns.name, body: app });
    await waitForAvailable(kc, ns.name, "retiring", 1);

    const retirement = awsEventFixture("health-ec2-instance-retirement-scheduled");
    retirement.resources = [instanceId];
    retirement.detail["affectedEntities"] = [{ entityValue: instanceId }];
    delete retirement.time;
    await putEvents(moto, [retirement]);

    const moved = await waitForAnnotations(
      kc,
      ns.name,
      "retiring",
      "healthy on Fargate",
      healthyOn("fargate"),
    );
    expect(moved.metadata!.annotations).toMatchObject({
      [Annotation.reason]: "scheduled-change",
      [Annotation.interruptedNode]: `${node.metadata!.name} (${instanceId})`,
    });
    await waitForEmptyQueue(sqs, aws.outputs["QueueUrl"]!);
  });
});

describe("an Auto Scaling termination lifecycle action through EventBridge and the stack's queue", () => {
  it("moves the Deployment, then completes the group's lifecycle action with CONTINUE", async () => {
    const node = nodes[2]!;
    const instanceId = instanceIdOf(node);
    const group = `eks-spot-${ns.name}`;
    const hook = "Terminate-LC-Hook";
    const asg = moto.client(AutoScalingClient);
    try {
      await asg.send(
        new CreateLaunchConfigurationCommand({
          LaunchConfigurationName: group,
          ImageId: "ami-12c6146b",
          InstanceType: "m5.large",
        }),
      );
      await asg.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: group,
          LaunchConfigurationName: group,
          MinSize: 0,
          MaxSize: 1,
          AvailabilityZones: [zone],
          Tags: [{ Key: "eks:cluster-name", Value: ns.name, PropagateAtLaunch: false }],
        }),
      );
      await asg.send(
        new PutLifecycleHookCommand({
          AutoScalingGroupName: group,
          LifecycleHookName: hook,
          LifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
          HeartbeatTimeout: 600,
        }),
      );
      // what moto cannot do yet, and why the stand-in answers instead
      const unimplemented = await asg
        .send(
          new CompleteLifecycleActionCommand({
            AutoScalingGroupName: group,
            LifecycleHookName: hook,
            LifecycleActionToken: "t",
            InstanceId: instanceId,
            LifecycleActionResult: "CONTINUE",
          }),
        )
        .catch((err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode);
      expect(unimplemented).toBe(500);
    } finally {
      asg.destroy();
    }
    const app = optedInApp("scaled-in", 1, { "kubernetes.io/hostname": node.metadata!.name! });
    await apps.createNamespacedDeployment({ namespace: ns.name, body: app });
    await waitForAvailable(kc, ns.name, "scaled-in", 1);

    const termination = awsEventFixture("autoscaling-instance-terminate-lifecycle-action");
    Object.assign(termination.detail, {
      EC2InstanceId: instanceId,
      AutoScalingGroupName: group,
      LifecycleHookName: hook,
    });
    termination.resources = [
      `arn:aws:autoscaling:${moto.region}:123456789012:autoScalingGroup:0:autoScalingGroupName/${group}`,
    ];
    delete termination.time;
    await putEvents(moto, [termination]);

    const moved = await waitForAnnotations(
      kc,
      ns.name,
      "scaled-in",
      "healthy on Fargate",
      healthyOn("fargate"),
    );
    expect(moved.metadata!.annotations).toMatchObject({ [Annotation.reason]: "asg-termination" });
    const [completed] = await waitFor("the lifecycle action to be completed", () =>
      autoScaling.completed.length > 0 ? autoScaling.completed : undefined,
    );
    expect(completed).toEqual({
      Action: "CompleteLifecycleAction",
      Version: "2011-01-01",
      AutoScalingGroupName: group,
      LifecycleHookName: hook,
      LifecycleActionToken: termination.detail["LifecycleActionToken"],
      InstanceId: instanceId,
      LifecycleActionResult: "CONTINUE",
    });
    const metrics = await stack.watcherMetrics(watcherHealthPort);
    expect(metricValue(metrics, "spot_orchestrator_lifecycle_actions_total", { result: "completed" })).toBe(
      1,
    );
    await waitForEmptyQueue(sqs, aws.outputs["QueueUrl"]!);
  });
});

describe("an Auto Scaling lifecycle hook whose notification target is the stack's queue", () => {
  it("moves the Deployment once, though the action comes from the hook and from EventBridge, then completes it", async () => {
    const node = nodes[3]!;
    const instanceId = instanceIdOf(node);
    const group = `self-managed-${ns.name}`;
    const app = optedInApp("hooked", 1, { "kubernetes.io/hostname": node.metadata!.name! });
    await apps.createNamespacedDeployment({ namespace: ns.name, body: app });
    await waitForAvailable(kc, ns.name, "hooked", 1);

    // what Auto Scaling sends to the hook's target, with the hook's role: no EventBridge envelope
    const notification = JSON.parse(
      readFileSync(
        new URL("../fixtures/aws-events/autoscaling-hook-notification-terminate.json", import.meta.url),
        "utf8",
      ),
    ) as Record<string, string>;
    Object.assign(notification, {
      EC2InstanceId: instanceId,
      AutoScalingGroupName: group,
      LifecycleHookName: "nth-terminate",
      LifecycleActionToken: randomUUID(),
      RequestId: randomUUID(),
      Time: new Date().toISOString(),
    });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: aws.outputs["QueueUrl"]!,
        MessageBody: JSON.stringify(notification),
      }),
    );
    // and what it emits to EventBridge for the same action, which the stack's rule sends to the queue too
    const termination = awsEventFixture("autoscaling-instance-terminate-lifecycle-action");
    Object.assign(termination.detail, {
      EC2InstanceId: instanceId,
      AutoScalingGroupName: group,
      LifecycleHookName: notification["LifecycleHookName"],
      LifecycleActionToken: notification["LifecycleActionToken"],
    });
    delete termination.time;
    await putEvents(moto, [termination]);

    const moved = await waitForAnnotations(kc, ns.name, "hooked", "healthy on Fargate", healthyOn("fargate"));
    expect(moved.metadata!.annotations).toMatchObject({ [Annotation.reason]: "asg-termination" });
    const mine = () =>
      autoScaling.completed.filter((c) => c["LifecycleActionToken"] === notification["LifecycleActionToken"]);
    await waitFor("the lifecycle action to be completed", () => mine().length > 0);
    expect(mine()).toEqual([
      {
        Action: "CompleteLifecycleAction",
        Version: "2011-01-01",
        AutoScalingGroupName: group,
        LifecycleHookName: "nth-terminate",
        LifecycleActionToken: notification["LifecycleActionToken"],
        InstanceId: instanceId,
        LifecycleActionResult: "CONTINUE",
      },
    ]);
    await waitFor("the other copy to be deleted as a repeat", async () => {
      const metrics = await stack.watcherMetrics(watcherHealthPort);
      return (
        metricValue(metrics, "spot_orchestrator_events_received_total", {
          type: "asg-termination",
          result: "duplicate",
        }) === 1
      );
    });
    await waitForEmptyQueue(sqs, aws.outputs["QueueUrl"]!);
    expect(mine()).toHaveLength(1);
  });
});
