// The EC2 events the watcher acts on, as the SQS side hands them to the cluster side.
import type { Logger } from "../../core/log.ts";

export type EventKind = "spot-interruption" | "rebalance-recommendation" | "instance-stopping";

export const EVENT_SOURCE = "aws.ec2";

/** The EventBridge `detail-type` of each kind. */
export const DETAIL_TYPES = {
  "spot-interruption": "EC2 Spot Instance Interruption Warning",
  "rebalance-recommendation": "EC2 Instance Rebalance Recommendation",
  "instance-stopping": "EC2 Instance State-change Notification",
} as const satisfies Record<EventKind, string>;

/** One EC2 event from EventBridge, parsed from the SQS body (direct, or wrapped in an SNS notification). */
export interface Ec2Event {
  /** EventBridge event id. */
  id: string;
  kind: EventKind;
  /** EventBridge `detail-type` as received. */
  detailType: string;
  instanceId: string;
  region: string;
  account: string;
  /** When AWS emitted the event. */
  time: Date;
  /** When the instance will be reclaimed (spot interruption: `instance-action-time`), if known. */
  deadline?: Date | undefined;
  /** Instance state for state-change notifications (`stopping`, `shutting-down`). */
  state?: string | undefined;
}

/** Handles one event; throws RetryableError to leave the message, PermanentError to delete and count it. */
export type EventHandler = (event: Ec2Event, context: { log: Logger; receivedAt: number }) => Promise<void>;
