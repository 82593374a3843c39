// `spot-orchestrator drill` end to end: a Node in the real apiserver, the event through the SQS emulator,
// and the watcher's consumer reading it back.
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDrill } from "../../cli/drill.ts";
import type { InterruptionEvent } from "../../watcher/sqs/interruptionEvent.ts";
import { addFargateNode, addSpotNodes } from "../../harness/cluster/nodes.ts";
import { testKubeConfig, testKubeconfigPath } from "../support/testCluster.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { startSqsEmulator, type SqsEmulator } from "../../harness/sqs/emulator.ts";
import { startTestConsumer, uniqueQueueName } from "../support/sqsConsumer.ts";

let emulator: SqsEmulator;
const nodes: string[] = [];

beforeAll(async () => {
  emulator = await startSqsEmulator();
});

afterAll(async () => {
  await emulator.stop();
  const core = testKubeConfig().makeApiClient(CoreV1Api);
  await Promise.all(nodes.map((name) => core.deleteNode({ name }).catch(() => undefined)));
});

describe("spot-orchestrator drill", () => {
  it("sends the node's interruption through the queue to the watcher's consumer", async () => {
    const [node] = await addSpotNodes(testKubeConfig(), 1, { zone: "eu-west-1c" });
    const name = node!.metadata!.name!;
    nodes.push(name);
    const queueUrl = await emulator.createQueue(uniqueQueueName("drill"));
    const received: InterruptionEvent[] = [];
    const consumer = startTestConsumer(emulator, queueUrl, async (event) => void received.push(event));
    const lines: string[] = [];
    try {
      // the region of the queue is the one its URL names; the event's, the node's
      await runDrill(["--node", name, "--kubeconfig", testKubeconfigPath()], {
        out: (line) => lines.push(line),
        env: { SQS_QUEUE_URL: queueUrl, AWS_ENDPOINT_URL_SQS: emulator.endpoint },
        now: () => new Date(),
      });
      await waitFor("the drill event to reach the consumer", () => received.length === 1, {
        timeoutMs: 20_000,
      });
    } finally {
      await consumer.close();
    }
    expect(received[0]).toMatchObject({
      kind: "spot-interruption",
      instanceId: node!.spec!.providerID!.split("/").at(-1),
      region: "eu-west-1",
    });
    expect(lines.join("\n")).toContain(received[0]!.id);
  });

  it("names the node and its providerID when the node is not an EC2 instance", async () => {
    const node = await addFargateNode(testKubeConfig());
    const name = node.metadata!.name!;
    nodes.push(name);
    await expect(
      runDrill(["--node", name, "--kubeconfig", testKubeconfigPath()], {
        out: () => undefined,
        env: {
          SQS_QUEUE_URL: await emulator.createQueue(uniqueQueueName("drill")),
          AWS_ENDPOINT_URL_SQS: emulator.endpoint,
        },
        now: () => new Date(),
      }),
    ).rejects.toThrow(
      `node ${name} is not an EC2 instance: its spec.providerID is "${node.spec!.providerID}"`,
    );
  });

  it("says when the node does not exist", async () => {
    await expect(
      runDrill(
        ["--node", "ip-10-255-255-254.eu-west-1.compute.internal", "--kubeconfig", testKubeconfigPath()],
        {
          out: () => undefined,
          env: {
            SQS_QUEUE_URL: await emulator.createQueue(uniqueQueueName("drill")),
            AWS_ENDPOINT_URL_SQS: emulator.endpoint,
          },
          now: () => new Date(),
        },
      ),
    ).rejects.toThrow("node ip-10-255-255-254.eu-west-1.compute.internal not found in the cluster");
  });
});
