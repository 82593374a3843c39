import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { V1Node } from "@kubernetes/client-node";
import { ec2NodeManifest, fargateNodeManifest } from "../harness/cluster/nodes.ts";
import { startSqsEmulator, useDummyAwsCredentials, type SqsEmulator } from "../harness/sqs/emulator.ts";
import { parseMessageBody } from "../watcher/sqs/parseEvent.ts";
import { eventForNode, parseDrillArgs, runDrill } from "./drill.ts";

const now = new Date("2026-11-02T14:05:10Z");

describe("parseDrillArgs", () => {
  it("defaults to a spot interruption as AWS sends it, without a deadline", () => {
    expect(parseDrillArgs(["--node", "ip-10-0-1-7.eu-west-1.compute.internal"])).toEqual({
      node: "ip-10-0-1-7.eu-west-1.compute.internal",
      kind: "spot-interruption",
      deadlineMs: undefined,
      account: undefined,
      kubeconfig: undefined,
      configFile: undefined,
    });
  });

  it("takes every flag", () => {
    expect(
      parseDrillArgs([
        "--node=n1",
        "--type",
        "instance-stopping",
        "--deadline",
        "90s",
        "--account",
        "123456789012",
        "--kubeconfig",
        "/tmp/kc",
        "--config",
        "/tmp/config.toml",
      ]),
    ).toEqual({
      node: "n1",
      kind: "instance-stopping",
      deadlineMs: 90_000,
      account: "123456789012",
      kubeconfig: "/tmp/kc",
      configFile: "/tmp/config.toml",
    });
    expect(parseDrillArgs(["--help"])).toBe("help");
    for (const kind of ["scheduled-change", "asg-termination"]) {
      expect(parseDrillArgs(["--node", "n1", "--type", kind])).toMatchObject({ kind });
    }
  });

  it.each([
    { argv: [], error: /--node is required/ },
    {
      argv: ["--node", "n1", "--type", "reboot"],
      error: /--type "reboot" is not allowed; allowed values: spot-/,
    },
    { argv: ["--node", "n1", "--deadline", "2 minutes"], error: /--deadline: "2 minutes" is not a duration/ },
    { argv: ["--node", "n1", "--account", "prod"], error: /--account "prod" is not an AWS account id/ },
    { argv: ["--node", "n1", "--force"], error: /Unknown option '--force'/ },
  ])("refuses $argv", ({ argv, error }) => {
    expect(() => parseDrillArgs(argv)).toThrow(error);
  });
});

describe("eventForNode", () => {
  const options = {
    kind: "spot-interruption" as const,
    time: now,
    deadline: new Date("2026-11-02T14:07:10Z"),
  };

  it("reads instance and region from an EC2 node's providerID", () => {
    const node = ec2NodeManifest("spot", { zone: "us-west-2c" });
    const instanceId = node.spec!.providerID!.split("/").at(-1);
    const event = eventForNode(node, options);
    expect(event).toMatchObject({
      source: "aws.ec2",
      "detail-type": "EC2 Spot Instance Interruption Warning",
      region: "us-west-2",
      time: "2026-11-02T14:05:10Z",
      detail: {
        "instance-id": instanceId,
        "instance-action": "terminate",
        "instance-action-time": "2026-11-02T14:07:10Z",
      },
    });
  });

  it("names the node and its providerID when it is not an EC2 instance", () => {
    const node = fargateNodeManifest();
    expect(() => eventForNode(node, options)).toThrow(
      `node ${node.metadata!.name} is not an EC2 instance: its spec.providerID is "${node.spec!.providerID}"`,
    );
    const bare: V1Node = { metadata: { name: "kind-worker" }, spec: {} };
    expect(() => eventForNode(bare, options)).toThrow(
      "node kind-worker is not an EC2 instance: its spec.providerID is not set",
    );
  });
});

describe("runDrill", () => {
  let emulator: SqsEmulator;
  beforeAll(async () => {
    useDummyAwsCredentials();
    emulator = await startSqsEmulator();
  });
  afterAll(async () => {
    await emulator.stop();
  });

  it("sends what AWS sends by default: a spot warning without instance-action-time", async () => {
    const queueUrl = await emulator.createQueue("drill-default");
    const node = ec2NodeManifest("spot", { zone: "eu-west-1b" });
    await runDrill(["--node", node.metadata!.name!], {
      out: () => undefined,
      env: { SQS_QUEUE_URL: queueUrl, AWS_ENDPOINT_URL_SQS: emulator.endpoint },
      now: () => now,
      readNode: async () => node,
    });
    const client = emulator.client();
    const { Messages: messages = [] } = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }),
    );
    client.destroy();
    const body = JSON.parse(messages[0]!.Body!) as { detail: Record<string, unknown> };
    expect(Object.keys(body.detail).sort()).toEqual(["instance-action", "instance-id"]);
    expect(parseMessageBody(messages[0]!.Body!).deadline).toEqual(new Date("2026-11-02T14:07:10Z"));
  });

  it("sends the node's event to the configured queue through the endpoint override, and says what it sent", async () => {
    const queueUrl = await emulator.createQueue("drill-events");
    const node = ec2NodeManifest("spot", { zone: "eu-west-1b" });
    const lines: string[] = [];
    await runDrill(["--node", node.metadata!.name!, "--deadline", "90s"], {
      out: (line) => lines.push(line),
      env: { SQS_QUEUE_URL: queueUrl, AWS_ENDPOINT_URL_SQS: emulator.endpoint, AWS_REGION: "us-east-1" },
      now: () => now,
      readNode: async (name) => {
        expect(name).toBe(node.metadata!.name);
        return node;
      },
    });

    const client = emulator.client();
    const { Messages: messages = [] } = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
    );
    client.destroy();
    expect(messages).toHaveLength(1);
    const event = parseMessageBody(messages[0]!.Body!);
    expect(event).toMatchObject({
      kind: "spot-interruption",
      instanceId: node.spec!.providerID!.split("/").at(-1),
      region: "eu-west-1",
      deadline: new Date("2026-11-02T14:06:40Z"),
    });
    const output = lines.join("\n");
    for (const expected of [event.id, event.instanceId, node.metadata!.name!, queueUrl, "in 1m30s"]) {
      expect(output).toContain(expected);
    }
  });

  it("refuses a node that is not an EC2 instance and sends nothing", async () => {
    const queueUrl = await emulator.createQueue("drill-refused");
    const node = fargateNodeManifest();
    await expect(
      runDrill(["--node", node.metadata!.name!], {
        out: () => undefined,
        env: { SQS_QUEUE_URL: queueUrl, AWS_ENDPOINT_URL_SQS: emulator.endpoint },
        now: () => now,
        readNode: async () => node,
      }),
    ).rejects.toThrow(`node ${node.metadata!.name} is not an EC2 instance`);
    const client = emulator.client();
    const { Messages: messages = [] } = await client.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }),
    );
    client.destroy();
    expect(messages).toEqual([]);
  });

  it("says where to configure the queue when none is", async () => {
    await expect(
      runDrill(["--node", "n1"], {
        out: () => undefined,
        env: {},
        now: () => now,
        readNode: async () => ec2NodeManifest("spot"),
      }),
    ).rejects.toThrow("set aws.sqs_queue_url in the config file or SQS_QUEUE_URL");
  });
});
