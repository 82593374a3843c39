// The stack's EventBridge rules in moto: EC2 events, AWS Health scheduled changes and Auto Scaling termination
// lifecycle actions, in the shapes AWS documents, put on the default bus; exactly the subscribed ones reach the
// stack's queue, as the envelope the watcher reads.
//
// moto delivers to the queue while PutEvents runs (AWS does it a moment later), so the queue holds every
// delivery once PutEvents returns. moto does not enforce the queue policy (which rules may send), nor deliver to
// a target's dead-letter queue: test/chart/aws-template.test.ts asserts those in the template.
import { join } from "node:path";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterDir } from "../../harness/cluster/paths.ts";
import { awsEventFixture, drainQueue, putEvents, type AwsEvent } from "./eventBridge.ts";
import { startMoto, type Moto } from "./moto.ts";
import { deployStack, type DeployedStack } from "./stack.ts";

const region = "us-east-1";
let moto: Moto;
let sqs: SQSClient;
let stack: DeployedStack;

beforeAll(async () => {
  moto = await startMoto({ logDir: join(clusterDir, "logs", "aws-eventbridge"), region });
  sqs = moto.client(SQSClient);
  stack = await deployStack(moto, "events-spot-orchestrator", {
    ClusterName: "events",
    PodIdentity: "trust",
  });
});

afterAll(async () => {
  sqs?.destroy();
  await moto?.stop();
});

/** A variant of a captured event: same shape, some fields changed. */
function variant(name: string, change: (event: AwsEvent) => void): AwsEvent {
  const event = awsEventFixture(name);
  change(event);
  return event;
}

const subscribed: Record<string, AwsEvent> = {
  "spot interruption warning (no instance-action-time, as AWS sends it)":
    awsEventFixture("spot-interruption-warning"),
  "spot interruption warning with instance-action-time": awsEventFixture(
    "spot-interruption-warning-with-action-time",
  ),
  "rebalance recommendation": awsEventFixture("rebalance-recommendation"),
  "state change to stopping": awsEventFixture("instance-state-change-stopping"),
  "state change to shutting-down": awsEventFixture("instance-state-change-shutting-down"),
  "state change to terminated": awsEventFixture("instance-state-change-terminated"),
  "state change to stopped": variant("instance-state-change-terminated", (e) => {
    e.detail["state"] = "stopped";
  }),
  "Capacity Reservation interruption warning": awsEventFixture("capacity-reservation-interruption-warning"),
  "AWS Health scheduled instance retirement": awsEventFixture("health-ec2-instance-retirement-scheduled"),
  "Auto Scaling instance-terminate lifecycle action": awsEventFixture(
    "autoscaling-instance-terminate-lifecycle-action",
  ),
};

const notSubscribed: Record<string, AwsEvent> = {
  "state change to running": awsEventFixture("instance-state-change-running"),
  "an aws.ec2 detail-type no rule takes": awsEventFixture("unknown-detail-type"),
  "an AWS Health EC2 issue (not a scheduled change)": awsEventFixture("health-ec2-operational-issue"),
  "an AWS Health scheduled change of another service": variant(
    "health-ec2-instance-retirement-scheduled",
    (e) => {
      e.detail["service"] = "RDS";
      e.detail["eventTypeCode"] = "AWS_RDS_MAINTENANCE_SCHEDULED";
    },
  ),
  "an Auto Scaling launch lifecycle action": variant(
    "autoscaling-instance-terminate-lifecycle-action",
    (e) => {
      e["detail-type"] = "EC2 Instance-launch Lifecycle Action";
      e.detail["LifecycleTransition"] = "autoscaling:EC2_INSTANCE_LAUNCHING";
    },
  ),
  "a spot warning from a source other than aws.ec2": variant("spot-interruption-warning", (e) => {
    e.source = "com.example.chaos";
  }),
};

describe("the stack's EventBridge rules", () => {
  it("deliver exactly the subscribed events to the queue, each once, as EventBridge envelopes", async () => {
    await putEvents(moto, [...Object.values(subscribed), ...Object.values(notSubscribed)]);

    const delivered = await drainQueue(sqs, stack.outputs["QueueUrl"]!);
    const key = (e: { source?: unknown; "detail-type"?: unknown; detail?: unknown }) =>
      JSON.stringify([e.source, e["detail-type"], e.detail]);
    expect(delivered.map(key).sort()).toEqual(Object.values(subscribed).map(key).sort());

    // moto's envelope leaves out `account`, which AWS sets (the watcher does not use it).
    for (const envelope of delivered) {
      const sent = Object.values(subscribed).find((e) => key(e) === key(envelope))!;
      expect(envelope).toMatchObject({
        version: "0",
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        region,
        time: sent.time,
        resources: sent.resources,
      });
    }

    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: stack.outputs["QueueUrl"]!,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    expect(Attributes).toMatchObject({
      ApproximateNumberOfMessages: "0",
      ApproximateNumberOfMessagesNotVisible: "0",
    });
    expect(await drainQueue(sqs, stack.outputs["DeadLetterQueueUrl"]!)).toEqual([]);
  });
});
