// EC2 events put through EventBridge (moto's), and what reaches the stack's queue.
import { readFileSync } from "node:fs";
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Moto } from "./moto.ts";

/** The fields of an EventBridge envelope that a PutEvents entry sets; EventBridge adds id, account, region. */
export interface AwsEvent {
  source: string;
  "detail-type": string;
  time?: string;
  resources?: string[];
  detail: Record<string, unknown>;
}

/** A fresh copy of a captured event of test/fixtures/aws-events. */
export function awsEventFixture(name: string): AwsEvent {
  return JSON.parse(
    readFileSync(new URL(`../fixtures/aws-events/${name}.json`, import.meta.url), "utf8"),
  ) as AwsEvent;
}

function entry(event: AwsEvent): PutEventsRequestEntry {
  return {
    Source: event.source,
    DetailType: event["detail-type"],
    Detail: JSON.stringify(event.detail),
    Resources: event.resources ?? [],
    ...(event.time ? { Time: new Date(event.time) } : {}),
  };
}

/**
 * Puts the events on the default bus; fails on any rejected entry. Real EventBridge refuses `aws.*` sources
 * from PutEvents (only AWS emits them); moto lets a test play AWS.
 */
export async function putEvents(moto: Moto, events: AwsEvent[]): Promise<void> {
  const client = moto.client(EventBridgeClient);
  try {
    for (let i = 0; i < events.length; i += 10) {
      const result = await client.send(new PutEventsCommand({ Entries: events.slice(i, i + 10).map(entry) }));
      const failed = (result.Entries ?? []).filter((e) => e.ErrorCode);
      if (failed.length > 0) throw new Error(`PutEvents rejected entries: ${JSON.stringify(failed)}`);
    }
  } finally {
    client.destroy();
  }
}

/** Receives and deletes every message in the queue until a receive comes back empty; returns the parsed bodies. */
export async function drainQueue(sqs: SQSClient, queueUrl: string): Promise<Record<string, unknown>[]> {
  const bodies: Record<string, unknown>[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return bodies;
    for (const message of Messages) {
      bodies.push(JSON.parse(message.Body ?? "null") as Record<string, unknown>);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }
}
