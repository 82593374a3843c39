// What a user sees when the watcher's queue goes wrong, end to end with the watcher, status and doctor as
// processes against the real apiserver and the SQS emulator: a queue that does not exist (a wrong URL) is
// reported unreachable within the grace period (a Warning Event on the watcher's Pod, the gauge, a Slack
// alert, one error line, status and doctor) and reachable again once it exists; a region other than the
// queue URL's stops the watcher at start; an interruption whose flips keep failing is given up on its last
// attempt (Events naming the Deployment, an alert, the metric) and lands in the dead-letter queue, whose
// depth doctor reports.
import { randomBytes } from "node:crypto";
import { GetQueueAttributesCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { AdmissionregistrationV1Api, type V1Node } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { ignoreNotFound } from "../../harness/cluster/api-errors.ts";
import { testKubeConfig, testKubeconfigPath } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, instanceIdOf } from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { readLog } from "../../harness/stack/logs.ts";
import { freePort, runCli } from "../../harness/stack/process.ts";
import { metricValue } from "../../harness/stack/stack.ts";
import { queueDepth } from "../support/sqsConsumer.ts";
import { clients, waitForAvailable } from "../support/deployments.ts";
import { describedEvents, watcherPod } from "../support/events.ts";
import { startSlackReceiver, type SlackReceiver } from "../support/slackReceiver.ts";
import { useStack } from "../support/suiteStack.ts";
import { optedInApp } from "../support/workloads.ts";

const kc = testKubeConfig();
const ns = useNamespace("e2e-queue-trouble");
const suffix = randomBytes(3).toString("hex");
let slack: SlackReceiver;
const suite = useStack(kc, ns, { RECOVERY_ENABLED: "false", QUEUE_UNREACHABLE_AFTER: "3s" });
const poisonWebhook = `spot-orchestrator-poison-${suffix}`;

beforeAll(async () => {
  slack = await startSlackReceiver();
});

afterAll(async () => {
  await slack?.close();
  await ignoreNotFound(() =>
    kc
      .makeApiClient(AdmissionregistrationV1Api)
      .deleteValidatingWebhookConfiguration({ name: poisonWebhook }),
  );
});

/** A queue URL of the stack's emulator, for a queue of that name (which may not exist). */
const queueUrlNamed = (name: string) => suite.stack.queueUrl.replace(/[^/]+$/, name);

/** The environment `status` and `doctor` run with: the watcher's, for this namespace. */
const cliEnv = (queueUrl: string) => ({
  ...suite.stack.watcherEnvironment,
  SQS_QUEUE_URL: queueUrl,
  KUBECONFIG: testKubeconfigPath(),
});

/** A watcher process with its own Pod object (POD_NAME, POD_UID) leading on its own (no election). */
async function watcherOn(queueUrl: string, name: string) {
  const pod = await watcherPod(kc, ns.name, name);
  const watcher = await suite.stack.startWatcher(name, {
    SQS_QUEUE_URL: queueUrl,
    POD_UID: pod.uid,
    SLACK_WEBHOOK_URL: slack.url,
    LEASE_NAME: `lease-${name}`,
  });
  const podEvents = () => describedEvents(kc, { kind: "Pod", namespace: ns.name, ...pod });
  return { ...watcher, pod, podEvents };
}

describe("a queue URL that names no queue", () => {
  it("is reported unreachable within the grace period, in every place a user looks, and reachable once it exists", async () => {
    const name = `missing-${suffix}`;
    const queueUrl = queueUrlNamed(name);
    const w = await watcherOn(queueUrl, "watcher-lost");

    const [warning] = await waitFor("a QueueUnreachable Event on the watcher's Pod", async () => {
      const events = (await w.podEvents()).filter((e) => e.reason === "QueueUnreachable");
      return events.length > 0 ? events : undefined;
    });
    expect(warning).toMatchObject({
      type: "Warning",
      reportingComponent: "spot-orchestrator.io/watcher",
      involvedObject: { kind: "Pod", name: "watcher-lost", uid: w.pod.uid },
    });
    expect(warning!.message).toContain(`Cannot receive from ${queueUrl}`);
    expect(warning!.message).toContain("QueueDoesNotExist: The specified queue does not exist. (HTTP 400)");
    expect(
      metricValue(await suite.stack.watcherMetrics(w.healthPort), "spot_orchestrator_queue_unreachable"),
    ).toBe(1);
    await waitFor("the Slack alert", () =>
      slack.messages.some((m) => m.text.includes("The watcher cannot read its SQS queue")),
    );
    const errors = () =>
      readLog(w.process.logFile).filter((l) => l.msg?.startsWith("the SQS queue is unreachable"));
    expect(errors()).toHaveLength(1);
    expect(errors()[0]).toMatchObject({
      level: "error",
      queueUrl,
      error: expect.stringContaining("QueueDoesNotExist"),
    });

    // status and doctor, run as a user would, read what the leader reports on its Lease
    const env = { ...cliEnv(queueUrl), LEASE_NAME: "lease-watcher-lost" };
    const status = await waitFor("status to show the queue unreachable", async () => {
      const run = await runCli(["status"], env);
      return run.output.includes("UNREACHABLE") ? run : undefined;
    });
    expect(status.code).toBe(0);
    expect(status.output).toMatch(
      new RegExp(
        `Queue: ${literal(queueUrl)} UNREACHABLE since \\S+ \\(\\d+s ago\\): QueueDoesNotExist: .*; interruptions are being missed \\(leader watcher-lost\\)\\.`,
      ),
    );
    const doctor = await runCli(["doctor"], env);
    expect(doctor.code).toBe(1);
    expect(doctor.output).toContain(
      "[FAIL] SQS queue reachable: QueueDoesNotExist: The specified queue does not exist. (HTTP 400)",
    );
    expect(doctor.output).toMatch(/\[FAIL\] the leader watcher reads the queue: .* UNREACHABLE since /);

    await suite.stack.sqs.createQueue(name);
    await waitFor("a QueueReachable Event", async () =>
      (await w.podEvents()).some((e) => e.reason === "QueueReachable" && e.type === "Normal"),
    );
    expect(
      metricValue(await suite.stack.watcherMetrics(w.healthPort), "spot_orchestrator_queue_unreachable"),
    ).toBe(0);
    expect(
      readLog(w.process.logFile).filter((l) => l.msg === "the SQS queue is reachable again"),
    ).toHaveLength(1);
    expect(errors()).toHaveLength(1);
    await waitFor("the recovery alert", () =>
      slack.messages.some((m) => m.text.includes("The watcher reads its SQS queue again")),
    );
    await waitFor("status to show the queue reachable", async () =>
      (await runCli(["status"], env)).output.includes(`Queue: ${queueUrl} reachable since`),
    );
    await w.process.stop();
  });
});

describe("a region other than the queue URL's", () => {
  it("stops the watcher at start with one line naming both", async () => {
    const queueUrl = "https://sqs.eu-west-1.amazonaws.com/123456789012/spot-orchestrator-1a2b3c4d";
    const run = await runCli(["watcher", "--health-port", String(await freePort())], {
      ...cliEnv(queueUrl),
      AWS_REGION: "us-east-1",
    });
    expect(run.code).toBe(1);
    expect(run.output.trim().split("\n")).toEqual([
      "spot-orchestrator watcher: invalid configuration:",
      `  aws.region (AWS_REGION): is us-east-1 but the queue ${queueUrl} is in eu-west-1: a queue is read in its own region; set eu-west-1 or leave it empty`,
    ]);
  });
});

describe("an interruption whose flips keep failing", () => {
  let node: V1Node;

  beforeAll(async () => {
    const [added] = await addSpotNodes(kc, 1, { nodegroup: `poison-${suffix}` });
    node = added!;
    suite.nodes.push(node);
  });

  it("is given up on its last attempt: Events on the watcher's Pod and the Deployment, an alert, the metric, and the dead-letter queue", async () => {
    const { stack } = suite;
    const dlqUrl = await stack.sqs.createQueue(`poisoned-dlq-${suffix}`);
    const { Attributes } = await stack.sqsClient.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }),
    );
    const queueUrl = await stack.sqs.createQueue(`poisoned-${suffix}`, {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!["QueueArn"], maxReceiveCount: 2 }),
    });
    const app = optedInApp("poisoned", 1, { "eks.amazonaws.com/nodegroup": `poison-${suffix}` });
    app.metadata!.labels = { poisoned: suffix };
    await clients(kc).apps.createNamespacedDeployment({ namespace: ns.name, body: app });
    const { metadata } = await waitForAvailable(kc, ns.name, "poisoned", 1);
    await rejectUpdatesOfPoisoned();
    const w = await watcherOn(queueUrl, "watcher-poisoned");

    const event = buildEventBridgeEvent({
      kind: "spot-interruption",
      instanceId: instanceIdOf(node),
      region: "eu-west-1",
    });
    await stack.sqsClient.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(event) }),
    );

    const [onPod] = await waitFor("an InterruptionGivenUp Event on the watcher's Pod", async () => {
      const events = (await w.podEvents()).filter((e) => e.reason === "InterruptionGivenUp");
      return events.length > 0 ? events : undefined;
    });
    expect(onPod!.type).toBe("Warning");
    expect(onPod!.message).toContain(
      `for node ${node.metadata!.name} (${instanceIdOf(node)}) after 2 attempts`,
    );
    expect(onPod!.message).toContain(`Deployments it would have moved: ${ns.name}/poisoned.`);
    const onDeployment = await waitFor("the Event on the Deployment", async () => {
      const events = await describedEvents(kc, {
        kind: "Deployment",
        namespace: ns.name,
        name: "poisoned",
        uid: metadata!.uid!,
      });
      return events.find((e) => e.reason === "InterruptionGivenUp");
    });
    expect(onDeployment.message).toMatch(/^Not moved: Gave up on EC2 Spot Instance Interruption Warning /);
    await waitFor("the alert", () =>
      slack.messages.some((m) => m.text.includes("Gave up on EC2 Spot Instance Interruption Warning")),
    );
    expect(
      metricValue(await stack.watcherMetrics(w.healthPort), "spot_orchestrator_events_received_total", {
        result: "given-up",
      }),
    ).toBe(1);
    await waitFor(
      "the event in the dead-letter queue",
      async () => (await queueDepth(stack.sqsClient, dlqUrl)) === 1,
    );
    const stored = await clients(kc).apps.readNamespacedDeployment({ namespace: ns.name, name: "poisoned" });
    expect(stored.metadata?.annotations?.[Annotation.compute]).toBeUndefined();

    const doctor = await runCli(["doctor"], { ...cliEnv(queueUrl), LEASE_NAME: "lease-watcher-poisoned" });
    expect(doctor.output).toContain(
      `[warn] dead-letter queue poisoned-dlq-${suffix}: 1 events nobody acted on: inspect them (aws sqs receive-message --queue-url ${dlqUrl}`,
    );
    await w.process.stop();
  });
});

/** Every update of the poisoned Deployment fails: its admission webhook cannot be reached (HTTP 500). */
async function rejectUpdatesOfPoisoned(): Promise<void> {
  const closedPort = await freePort();
  await kc.makeApiClient(AdmissionregistrationV1Api).createValidatingWebhookConfiguration({
    body: {
      metadata: { name: poisonWebhook },
      webhooks: [
        {
          name: "poison.spot-orchestrator.test",
          clientConfig: { url: `https://127.0.0.1:${closedPort}/validate` },
          rules: [
            { apiGroups: ["apps"], apiVersions: ["v1"], operations: ["UPDATE"], resources: ["deployments"] },
          ],
          objectSelector: { matchLabels: { poisoned: suffix } },
          failurePolicy: "Fail",
          sideEffects: "None",
          admissionReviewVersions: ["v1"],
          timeoutSeconds: 2,
        },
      ],
    },
  });
}

/** `text` as a regular expression that matches it. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
