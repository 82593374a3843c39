// The events the watcher acts on, as the SQS side hands them to the cluster side: one type per kind, a union
// keyed on `kind`. EC2 itself, AWS Health and Auto Scaling each announce that an instance goes away.
// Auto Scaling's come through EventBridge or, from a lifecycle hook whose notification target is the queue
// itself, as the hook's own notification: both are an `asg-termination`.
import type { Logger } from "../../core/log.ts";

export type EventKind = InterruptionEvent["kind"];

/** The EventBridge `source` and `detail-type` of each kind. */
export const EVENT_TYPES = {
  "spot-interruption": { source: "aws.ec2", detailType: "EC2 Spot Instance Interruption Warning" },
  "capacity-reservation-interruption": {
    source: "aws.ec2",
    detailType: "EC2 Capacity Reservation Instance Interruption Warning",
  },
  "rebalance-recommendation": { source: "aws.ec2", detailType: "EC2 Instance Rebalance Recommendation" },
  "instance-stopping": { source: "aws.ec2", detailType: "EC2 Instance State-change Notification" },
  "scheduled-change": { source: "aws.health", detailType: "AWS Health Event" },
  "asg-termination": { source: "aws.autoscaling", detailType: "EC2 Instance-terminate Lifecycle Action" },
} as const satisfies Record<EventKind, { source: string; detailType: string }>;

export const EVENT_KINDS = Object.keys(EVENT_TYPES) as EventKind[];

/** AWS gives two minutes' notice before reclaiming a spot instance (and an interruptible reservation's). */
export const SPOT_NOTICE_MS = 120_000;

interface EventBase {
  /** EventBridge event id. */
  id: string;
  /** EventBridge `detail-type` as received. */
  detailType: string;
  /** The instance the event is about (for AWS Health, which may name several, the first of `instanceIds`). */
  instanceId: string;
  region: string;
  account: string;
  /** When AWS emitted the event. */
  time: Date;
  /** When the instance goes away, when the event says. */
  deadline?: Date | undefined;
}

export interface SpotInterruption extends EventBase {
  kind: "spot-interruption";
  /** `instance-action-time`, which real warnings mostly leave out: then the event's time plus two minutes. */
  deadline: Date;
}

/**
 * An instance of an interruptible Capacity Reservation whose owner takes the capacity back: terminated two
 * minutes later, as a spot instance is after its warning.
 */
export interface CapacityReservationInterruption extends EventBase {
  kind: "capacity-reservation-interruption";
  /** `instance-termination-time` when the event has one, else the event's time plus two minutes. */
  deadline: Date;
}

export interface RebalanceRecommendation extends EventBase {
  kind: "rebalance-recommendation";
}

/** States of a state-change notification that mean the instance goes away, or is gone already. */
export const STOPPING_STATES = ["stopping", "shutting-down", "stopped", "terminated"] as const;

/**
 * An instance stopping or terminating. The stack's rule sends `stopping` and `shutting-down`; `stopped` and
 * `terminated` come from a rule of one's own, when the pods on the node are dead already: moving what is
 * left starts their replacements at once instead of after the node controller's eviction.
 */
export interface InstanceStopping extends EventBase {
  kind: "instance-stopping";
  state: (typeof STOPPING_STATES)[number];
}

/** An AWS Health scheduled change of EC2 instances (retirement, stop, reboot, maintenance), days ahead. */
export interface ScheduledChange extends EventBase {
  kind: "scheduled-change";
  /** Every affected instance (`detail.affectedEntities`, else `resources`), `instanceId` first. */
  instanceIds: string[];
  /** e.g. `AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED`. */
  eventTypeCode: string;
  /** `upcoming` or `open`; a `closed` change is not an event to act on. */
  statusCode: string;
}

/** An Auto Scaling group terminating an instance, held by a lifecycle hook until it is completed. */
export interface AsgTermination extends EventBase {
  kind: "asg-termination";
  lifecycle: LifecycleAction;
}

export interface LifecycleAction {
  autoScalingGroupName: string;
  lifecycleHookName: string;
  lifecycleActionToken: string;
}

export type InterruptionEvent =
  | SpotInterruption
  | CapacityReservationInterruption
  | RebalanceRecommendation
  | InstanceStopping
  | ScheduledChange
  | AsgTermination;

/** When the event's instance goes: its own deadline, else two minutes (a spot warning's notice) after it. */
export function deadlineOf(event: InterruptionEvent): Date {
  return event.deadline ?? new Date(event.time.getTime() + SPOT_NOTICE_MS);
}

/** The instances an event names. */
export function instancesOf(event: InterruptionEvent): string[] {
  return event.kind === "scheduled-change" ? event.instanceIds : [event.instanceId];
}

/**
 * What makes two messages the same event, for recognising repeats: its id, except for an Auto Scaling
 * lifecycle action, which comes twice when its hook's notification target is the queue and the stack's rule
 * takes it from EventBridge as well (two ids, one action: its token).
 */
export function occurrenceOf(event: InterruptionEvent): string {
  return event.kind === "asg-termination"
    ? `lifecycle-action:${event.lifecycle.lifecycleActionToken}`
    : `event:${event.id}`;
}

/** How logs, Events and alerts name the event: its detail-type, with what tells it apart. */
export function describeEvent(event: InterruptionEvent): string {
  switch (event.kind) {
    case "scheduled-change":
      return `AWS Health scheduled change ${event.eventTypeCode}`;
    case "asg-termination":
      return `Auto Scaling termination by group ${event.lifecycle.autoScalingGroupName}`;
    case "instance-stopping":
      return `${event.detailType} (${event.state})`;
    default:
      return event.detailType;
  }
}

/** Handles one event; throws RetryableError to leave the message, PermanentError to delete and count it. */
export type EventHandler = (
  event: InterruptionEvent,
  context: { log: Logger; receivedAt: number },
) => Promise<void>;
