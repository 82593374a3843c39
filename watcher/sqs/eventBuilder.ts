// Builds EventBridge events shaped like the ones AWS sends (see test/fixtures/aws-events), for
// `spot-orchestrator drill`, tests and the demo.
import { randomUUID } from "node:crypto";
import { isInstanceId } from "../../core/ec2.ts";
import { rfc3339 } from "../../core/time.ts";
import {
  EVENT_TYPES,
  type EventKind,
  type InstanceStopping,
  type LifecycleAction,
} from "./interruptionEvent.ts";

export interface EventBridgeEvent {
  version: string;
  id: string;
  "detail-type": string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
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
  /**
   * Spot interruptions: written as `instance-action-time`, which real warnings mostly leave out (so, by
   * default, does this); Capacity Reservation interruptions: `instance-termination-time`. Scheduled changes:
   * the change's `startTime`, two weeks ahead by default.
   */
  deadline?: Date;
  /** Spot interruptions: `terminate` (default), `stop` or `hibernate`. */
  instanceAction?: "terminate" | "stop" | "hibernate";
  /** State-change notifications: `stopping` (default), `shutting-down`, `stopped` or `terminated`. */
  state?: InstanceStopping["state"];
  /** Scheduled changes: `AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED` by default. */
  eventTypeCode?: string;
  /** Auto Scaling terminations: the group, hook and token (made up by default, as a drill has none). */
  lifecycle?: Partial<LifecycleAction>;
}

const PLACEHOLDER_ACCOUNT = "000000000000";
const SCHEDULED_CHANGE_NOTICE_MS = 14 * 24 * 3_600_000;

export function buildEventBridgeEvent(options: BuildEventOptions): EventBridgeEvent {
  if (!isInstanceId(options.instanceId)) {
    throw new Error(`"${options.instanceId}" is not an EC2 instance id (i- and 8 or 17 hex digits)`);
  }
  const { kind, instanceId, region } = options;
  const account = options.account ?? PLACEHOLDER_ACCOUNT;
  const time = options.time ?? new Date();
  const { source, detailType } = EVENT_TYPES[kind];
  const instanceArn = `arn:${partition(region)}:ec2:${region}:${account}:instance/${instanceId}`;
  let resources = [instanceArn];
  let detail: Record<string, unknown> = { "instance-id": instanceId };
  if (kind === "spot-interruption") {
    detail["instance-action"] = options.instanceAction ?? "terminate";
    if (options.deadline) detail["instance-action-time"] = rfc3339(options.deadline);
  } else if (kind === "capacity-reservation-interruption") {
    detail["instance-action"] = "terminate";
    if (options.deadline) detail["instance-termination-time"] = rfc3339(options.deadline);
  } else if (kind === "instance-stopping") {
    detail["state"] = options.state ?? "stopping";
  } else if (kind === "scheduled-change") {
    resources = [instanceId];
    detail = healthDetail(options, region, time);
  } else if (kind === "asg-termination") {
    const group = options.lifecycle?.autoScalingGroupName ?? "spot-workers";
    resources = [
      `arn:${partition(region)}:autoscaling:${region}:${account}:autoScalingGroup:${randomUUID()}:autoScalingGroupName/${group}`,
    ];
    detail = {
      LifecycleActionToken: options.lifecycle?.lifecycleActionToken ?? randomUUID(),
      AutoScalingGroupName: group,
      LifecycleHookName: options.lifecycle?.lifecycleHookName ?? "spot-orchestrator",
      EC2InstanceId: instanceId,
      LifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
      Origin: "AutoScalingGroup",
      Destination: "EC2",
    };
  }
  return {
    version: "0",
    id: options.id ?? randomUUID(),
    "detail-type": detailType,
    source,
    account,
    time: rfc3339(time),
    region,
    resources,
    detail,
  };
}

/** An AWS Health scheduled change of one instance, as the fixture of an instance retirement shows it. */
function healthDetail(options: BuildEventOptions, region: string, time: Date): Record<string, unknown> {
  const code = options.eventTypeCode ?? "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED";
  const start = options.deadline ?? new Date(time.getTime() + SCHEDULED_CHANGE_NOTICE_MS);
  return {
    eventArn: `arn:${partition(region)}:health:${region}::event/EC2/${code}/${code}_${randomUUID()}`,
    service: "EC2",
    eventScopeCode: "ACCOUNT_SPECIFIC",
    lastUpdatedTime: time.toUTCString(),
    statusCode: "upcoming",
    eventRegion: region,
    eventTypeCode: code,
    eventTypeCategory: "scheduledChange",
    startTime: start.toUTCString(),
    eventDescription: [
      { language: "en_US", latestDescription: `A scheduled change (${code}) of your instance.` },
    ],
    affectedEntities: [{ entityValue: options.instanceId }],
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
