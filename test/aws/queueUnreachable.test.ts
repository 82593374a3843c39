// Watchers that cannot read their queue in moto, with IAM enforced (moto checks access keys and policies once
// told to): an access key AWS does not know, a key whose user may not receive (until a policy lets it), and a
// queue URL naming a region the queue is not in. Each watcher reports the queue unreachable on its own Pod
// within the grace period, with the AWS error; the one given the permission reports it reachable again.
//
// moto answers the SQS JSON protocol's authentication failures in XML, so the SDK reports them as a response
// it cannot read, with the HTTP status (AWS answers InvalidClientTokenId or AccessDenied in JSON).
import { join } from "node:path";
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  PutUserPolicyCommand,
} from "@aws-sdk/client-iam";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testKubeConfig, testKubeconfigPath } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { clusterDir } from "../../harness/cluster/paths.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { describedEvents, watcherPod } from "../support/events.ts";
import { metricValue, startStack, type Stack } from "../../harness/stack/stack.ts";
import { motoAccount, startMoto, type Moto } from "./moto.ts";

const kc = testKubeConfig();
const ns = useNamespace("aws-queue-unreachable");
const region = "eu-west-1";
let moto: Moto;
let stack: Stack;
let queueUrl: string;
let admin: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string };
let receiver: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string };
const queueName = "spot-orchestrator-unreachable";

/** A user with an access key, allowed `actions` on everything (none: nothing). */
async function user(iam: IAMClient, name: string, actions: string[]) {
  await iam.send(new CreateUserCommand({ UserName: name }));
  if (actions.length > 0) await allow(iam, name, actions);
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
  return { AWS_ACCESS_KEY_ID: AccessKey!.AccessKeyId!, AWS_SECRET_ACCESS_KEY: AccessKey!.SecretAccessKey! };
}

async function allow(iam: IAMClient, name: string, actions: string[]) {
  const document = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: actions, Resource: "*" }],
  };
  await iam.send(
    new PutUserPolicyCommand({
      UserName: name,
      PolicyName: "allow",
      PolicyDocument: JSON.stringify(document),
    }),
  );
}

/** From now on moto authenticates every request and evaluates IAM policies. */
async function enforceIam(): Promise<void> {
  const res = await fetch(`${moto.endpoint}/moto-api/reset-auth`, { method: "POST", body: "0" });
  if (!res.ok) throw new Error(`moto refused to enforce IAM: HTTP ${res.status}`);
}

beforeAll(async () => {
  moto = await startMoto({ logDir: join(clusterDir, "logs", ns.name), region });
  const sqs = moto.client(SQSClient);
  const iam = moto.client(IAMClient);
  try {
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: queueName }))).QueueUrl!;
    admin = await user(iam, "admin", ["*"]);
    receiver = await user(iam, "receiver", []);
  } finally {
    sqs.destroy();
    iam.destroy();
  }
  await enforceIam();
  stack = await startStack({
    kc,
    kubeconfigPath: testKubeconfigPath(),
    namespace: ns.name,
    logDir: join(clusterDir, "logs", ns.name),
    watcher: false,
    watcherEnv: {
      RECOVERY_ENABLED: "false",
      QUEUE_UNREACHABLE_AFTER: "2s",
      AWS_ENDPOINT_URL_SQS: moto.endpoint,
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  await moto?.stop();
});

/** A watcher with a Pod object of its own, leading on a Lease of its own. */
async function watcher(name: string, env: Record<string, string>) {
  const pod = await watcherPod(kc, ns.name, name);
  const started = await stack.startWatcher(name, { POD_UID: pod.uid, LEASE_NAME: `lease-${name}`, ...env });
  const events = async (reason: string) =>
    (await describedEvents(kc, { kind: "Pod", namespace: ns.name, ...pod })).filter(
      (e) => e.reason === reason,
    );
  const unreachable = () =>
    waitFor(`${name}: a QueueUnreachable Event`, async () => (await events("QueueUnreachable"))[0]);
  return { ...started, events, unreachable };
}

describe("a watcher that cannot read its queue in moto", () => {
  it("with an access key AWS does not know reports the queue unreachable with the HTTP 403", async () => {
    const w = await watcher("watcher-unknown-key", {
      SQS_QUEUE_URL: queueUrl,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
      AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    });
    const event = await w.unreachable();
    expect(event.type).toBe("Warning");
    expect(event.message).toMatch(
      /^Cannot receive from \S+ for \d+s \(\d+ failed receives\): .*\(HTTP 403\)\./,
    );
    expect(metricValue(await stack.watcherMetrics(w.healthPort), "spot_orchestrator_queue_unreachable")).toBe(
      1,
    );
    await w.process.stop();
  });

  it("whose user may not receive reports it unreachable, and reachable once a policy allows it", async () => {
    const w = await watcher("watcher-no-permission", {
      SQS_QUEUE_URL: queueUrl,
      AWS_REGION: region,
      ...receiver,
    });
    expect((await w.unreachable()).message).toContain("(HTTP 403)");

    const iam = new IAMClient({
      region,
      endpoint: moto.endpoint,
      credentials: { accessKeyId: admin.AWS_ACCESS_KEY_ID, secretAccessKey: admin.AWS_SECRET_ACCESS_KEY },
    });
    try {
      await allow(iam, "receiver", ["sqs:ReceiveMessage", "sqs:GetQueueAttributes"]);
    } finally {
      iam.destroy();
    }
    await waitFor("a QueueReachable Event", async () => (await w.events("QueueReachable")).length === 1);
    expect(metricValue(await stack.watcherMetrics(w.healthPort), "spot_orchestrator_queue_unreachable")).toBe(
      0,
    );
    await w.process.stop();
  });

  it("whose queue URL names a region the queue is not in reports the queue does not exist there", async () => {
    const elsewhere = `https://sqs.us-west-2.amazonaws.com/${motoAccount}/${queueName}`;
    // no region set: the watcher reads the queue in the region its URL names
    const w = await watcher("watcher-other-region", { SQS_QUEUE_URL: elsewhere, AWS_REGION: "", ...admin });
    const event = await w.unreachable();
    expect(event.message).toContain(`Cannot receive from ${elsewhere}`);
    expect(event.message).toContain("QueueDoesNotExist");
    await w.process.stop();
  });
});
