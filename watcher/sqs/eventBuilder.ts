// Builds EventBridge EC2 events shaped like the ones AWS sends (see test/fixtures/aws-events), for
// `spot-orchestrator drill`, tests and the demo.
import { randomUUID } from "node:crypto";
import { isInstanceId } from "../../core/ec2.ts";
import { rfc3339 } from "../../core/time.ts";
import { DETAIL_TYPES, EVENT_SOURCE, type EventKind } from "./ec2Event.ts";

export interface EventBridgeEvent {
  version: string;
  id: string;
  "detail-type": string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, string>;
}

export interface BuildEventOptions {
  kind: EventKind;
  instanceId: string;
  region: string;
  /** Defaults to a placeholder account; drills do not know the real one. */
  account?: string;
  /** Event id; a new UUID by default. */
  id?: string;
  /** When AWS emitted the event; now by default. */
  time?: Date;
  /** Spot interruptions: when the instance is reclaimed; two minutes after `time` by default. */
  deadline?: Date;
  /** Spot interruptions: `terminate` (default), `stop` or `hibernate`. */
  instanceAction?: "terminate" | "stop" | "hibernate";
  /** State-change notifications: `stopping` (default) or `shutting-down`. */
  state?: "stopping" | "shutting-down";
}

const PLACEHOLDER_ACCOUNT = "000000000000";

/** AWS gives two minutes' notice before reclaiming a spot instance. */
const SPOT_NOTICE_MS = 120_000;

export function buildEc2Event(options: BuildEventOptions): EventBridgeEvent {
  if (!isInstanceId(options.instanceId)) {
    throw new Error(`"${options.instanceId}" is not an EC2 instance id (i- and 8 or 17 hex digits)`);
  }
  const account = options.account ?? PLACEHOLDER_ACCOUNT;
  const time = options.time ?? new Date();
  const detail: Record<string, string> = { "instance-id": options.instanceId };
  if (options.kind === "spot-interruption") {
    detail["instance-action"] = options.instanceAction ?? "terminate";
    detail["instance-action-time"] = rfc3339(options.deadline ?? new Date(time.getTime() + SPOT_NOTICE_MS));
  } else if (options.kind === "instance-stopping") {
    detail["state"] = options.state ?? "stopping";
  }
  return {
    version: "0",
    id: options.id ?? randomUUID(),
    "detail-type": DETAIL_TYPES[options.kind],
    source: EVENT_SOURCE,
    account,
    time: rfc3339(time),
    region: options.region,
    resources: [
      `arn:${partition(options.region)}:ec2:${options.region}:${account}:instance/${options.instanceId}`,
    ],
    detail,
  };
}

/** The SQS body of an EventBridge → SNS → SQS delivery without raw message delivery. */
export function wrapInSnsNotification(
  event: EventBridgeEvent,
  topicArn = `arn:aws:sns:${event.region}:${event.account}:spot-events`,
): Record<string, unknown> {
  return {
    Type: "Notification",
    MessageId: randomUUID(),
    TopicArn: topicArn,
    Message: JSON.stringify(event),
    Timestamp: new Date().toISOString(),
    SignatureVersion: "1",
  };
}

function partition(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.includes("-gov-")) return "aws-us-gov";
  return "aws";
}
