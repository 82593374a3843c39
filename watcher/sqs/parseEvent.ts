// Turns an SQS message body into an InterruptionEvent: an EventBridge envelope, or the notification of an Auto Scaling
// lifecycle hook whose target is the queue itself (no envelope: the lifecycle action's fields at the top
// level), either of them directly or inside an SNS notification. Only the fields the orchestrator uses are
// read: AWS varies ids, times, regions and ARNs.
import { isInstanceId } from "../../core/ec2.ts";
import { PermanentError } from "../../core/errors.ts";
import { parseTime } from "../../core/time.ts";
import {
  EVENT_TYPES,
  SPOT_NOTICE_MS,
  STOPPING_STATES,
  type AsgTermination,
  type InterruptionEvent,
  type EventKind,
  type InstanceStopping,
  type ScheduledChange,
} from "./interruptionEvent.ts";

const KINDS = new Map<string, EventKind>(
  Object.entries(EVENT_TYPES).map(([kind, t]) => [`${t.source} ${t.detailType}`, kind as EventKind]),
);
const SOURCES: readonly string[] = [...new Set(Object.values(EVENT_TYPES).map((t) => t.source))];

const TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING";
/** What Auto Scaling sends first to a hook's notification target, and what EventBridge may pass on. */
const TEST_NOTIFICATION = "autoscaling:TEST_NOTIFICATION";

type Envelope = Record<string, unknown>;
type Common = Pick<InterruptionEvent, "id" | "detailType" | "region" | "account" | "time">;

export function parseMessageBody(body: string): InterruptionEvent {
  const outer = parseObject(body, "message body");
  const message = outer["Type"] === "Notification" ? unwrapSns(outer) : outer;
  return isHookNotification(message) ? parseHookNotification(message) : parseEnvelope(message);
}

function unwrapSns(notification: Envelope): Envelope {
  const message = notification["Message"];
  if (typeof message !== "string") {
    throw new PermanentError("unparseable", "SNS notification without a string Message");
  }
  return parseObject(message, "SNS Message");
}

function parseEnvelope(envelope: Envelope): InterruptionEvent {
  const source = envelope["source"];
  if (typeof source !== "string" || !SOURCES.includes(source)) {
    throw new PermanentError(
      "foreign-source",
      `event source ${describe(source)} is not ${SOURCES.join(", ")}`,
    );
  }
  const detailType = envelope["detail-type"];
  const kind = typeof detailType === "string" ? KINDS.get(`${source} ${detailType}`) : undefined;
  if (kind === undefined) {
    throw new PermanentError("unknown-type", `${source} detail-type ${describe(detailType)} is not handled`);
  }
  const id = envelope["id"];
  if (typeof id !== "string" || id.trim() === "") {
    throw new PermanentError("invalid", `${detailType} event without an id`);
  }
  const detail = envelope["detail"];
  if (!isObject(detail)) throw new PermanentError("invalid", `${detailType} event ${id} without a detail`);
  const common: Common = {
    id,
    detailType: detailType as string,
    region: stringOr(envelope["region"], ""),
    account: stringOr(envelope["account"], ""),
    // A missing or broken time must not lose an interruption; the arrival time is close enough.
    time: dateOf(envelope["time"]) ?? new Date(),
  };
  const what = `${common.detailType} event ${id}`;
  switch (kind) {
    case "spot-interruption":
      return {
        ...common,
        kind,
        instanceId: instanceIdIn(detail, "instance-id", what),
        deadline: dateOf(detail["instance-action-time"]) ?? twoMinutesAfter(common.time),
      };
    case "capacity-reservation-interruption":
      return {
        ...common,
        kind,
        instanceId: instanceIdIn(detail, "instance-id", what),
        deadline: dateOf(detail["instance-termination-time"]) ?? twoMinutesAfter(common.time),
      };
    case "rebalance-recommendation":
      return { ...common, kind, instanceId: instanceIdIn(detail, "instance-id", what) };
    case "instance-stopping":
      return {
        ...common,
        kind,
        instanceId: instanceIdIn(detail, "instance-id", what),
        state: stopping(detail, what),
      };
    case "scheduled-change":
      return scheduledChange(common, envelope, detail, what);
    case "asg-termination":
      return asgTermination(common, detail, what);
  }
}

function twoMinutesAfter(time: Date): Date {
  return new Date(time.getTime() + SPOT_NOTICE_MS);
}

function stopping(detail: Envelope, what: string): InstanceStopping["state"] {
  const state = detail["state"];
  if (typeof state !== "string" || !(STOPPING_STATES as readonly string[]).includes(state)) {
    throw new PermanentError(
      "ignored-state",
      `${what}: state ${describe(state)} is not one of ${STOPPING_STATES.join(", ")}`,
    );
  }
  return state as InstanceStopping["state"];
}

/** Only EC2 scheduled changes still to come or under way name instances to move. */
function scheduledChange(
  common: Common,
  envelope: Envelope,
  detail: Envelope,
  what: string,
): ScheduledChange {
  const ignored = (why: string) => new PermanentError("ignored-health-event", `${what}: ${why}`);
  const { service, eventTypeCategory, statusCode, eventTypeCode } = detail;
  if (service !== "EC2") throw ignored(`service ${describe(service)} is not EC2`);
  if (eventTypeCategory !== "scheduledChange") {
    throw ignored(`category ${describe(eventTypeCategory)} is not scheduledChange`);
  }
  if (statusCode === "closed") throw ignored("the change is closed (done or cancelled)");
  const entities = Array.isArray(detail["affectedEntities"]) ? detail["affectedEntities"] : [];
  const named = entities.map((e: unknown) => (isObject(e) ? e["entityValue"] : undefined));
  const resources = Array.isArray(envelope["resources"]) ? envelope["resources"] : [];
  // resources may carry the ids themselves or instance ARNs (…:instance/i-…)
  const fromResources = resources.map((r: unknown) => (typeof r === "string" ? r.split("/").pop() : r));
  const instanceIds = [...new Set([...named, ...fromResources].filter(isInstanceId))];
  if (instanceIds.length === 0) throw ignored("it names no EC2 instance");
  return {
    ...common,
    kind: "scheduled-change",
    instanceId: instanceIds[0]!,
    instanceIds,
    eventTypeCode: stringOr(eventTypeCode, "(no eventTypeCode)"),
    statusCode: stringOr(statusCode, ""),
    deadline: dateOf(detail["startTime"]),
  };
}

/**
 * A lifecycle hook's own notification (its target is the queue, or an SNS topic the queue subscribes to): no
 * EventBridge envelope, `source` and `detail-type`; the lifecycle action's fields at the top level, with
 * `Service: "AWS Auto Scaling"`, `RequestId`, `Time` and `AccountId`.
 */
function isHookNotification(message: Envelope): boolean {
  if (message["source"] !== undefined || message["detail-type"] !== undefined) return false;
  return (
    message["Service"] === "AWS Auto Scaling" ||
    typeof message["LifecycleTransition"] === "string" ||
    (typeof message["Event"] === "string" && message["Event"].startsWith("autoscaling:"))
  );
}

/** Read as the EventBridge form of the same lifecycle action: its fields are that form's `detail`. */
function parseHookNotification(notification: Envelope): AsgTermination {
  const { detailType } = EVENT_TYPES["asg-termination"];
  const requestId = notification["RequestId"];
  const token = notification["LifecycleActionToken"];
  const id = typeof requestId === "string" && requestId !== "" ? requestId : token;
  const what = `Auto Scaling lifecycle hook notification ${typeof id === "string" ? id : "(no RequestId)"}`;
  rejectTestNotification(notification, what);
  if (typeof id !== "string" || id === "") {
    throw new PermanentError("invalid", `${what}: neither a RequestId nor a LifecycleActionToken`);
  }
  const groupArn = notification["AutoScalingGroupARN"];
  const common: Common = {
    id,
    detailType,
    // arn:aws:autoscaling:<region>:<account>:autoScalingGroup:...; a terminating hook's notification has none
    region: typeof groupArn === "string" ? (groupArn.split(":")[3] ?? "") : "",
    account: stringOr(notification["AccountId"], ""),
    time: dateOf(notification["Time"]) ?? new Date(),
  };
  return asgTermination(common, notification, what);
}

/** Auto Scaling's test notification, in either form: nothing happens to any instance. */
function rejectTestNotification(fields: Envelope, what: string): void {
  if (fields["Event"] === TEST_NOTIFICATION || fields["LifecycleTransition"] === TEST_NOTIFICATION) {
    throw new PermanentError(
      "ignored-transition",
      `${what}: ${TEST_NOTIFICATION}, sent when a hook or its notification target is set up`,
    );
  }
}

function asgTermination(common: Common, detail: Envelope, what: string): AsgTermination {
  rejectTestNotification(detail, what);
  const transition = detail["LifecycleTransition"];
  if (transition !== TERMINATING) {
    throw new PermanentError(
      "ignored-transition",
      `${what}: lifecycle transition ${describe(transition)} is not ${TERMINATING}`,
    );
  }
  const text = (key: string) => {
    const value = detail[key];
    if (typeof value !== "string" || value === "") {
      throw new PermanentError("invalid", `${what}: ${key} ${describe(value)} is not a name`);
    }
    return value;
  };
  return {
    ...common,
    kind: "asg-termination",
    instanceId: instanceIdIn(detail, "EC2InstanceId", what),
    lifecycle: {
      autoScalingGroupName: text("AutoScalingGroupName"),
      lifecycleHookName: text("LifecycleHookName"),
      lifecycleActionToken: text("LifecycleActionToken"),
    },
  };
}

function instanceIdIn(detail: Envelope, key: string, what: string): string {
  const value = detail[key];
  if (!isInstanceId(value)) {
    throw new PermanentError("invalid", `${what}: ${key} ${describe(value)} is not an EC2 instance id`);
  }
  return value;
}

function parseObject(text: string, what: string): Envelope {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new PermanentError("unparseable", `${what} is not JSON`, { cause: err });
  }
  if (!isObject(value)) throw new PermanentError("unparseable", `${what} is not a JSON object`);
  return value;
}

function isObject(value: unknown): value is Envelope {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function dateOf(value: unknown): Date | undefined {
  const ms = parseTime(value);
  return ms === undefined ? undefined : new Date(ms);
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}

/** A short, log-safe rendering of an unexpected value. */
function describe(value: unknown): string {
  if (value === undefined) return "(missing)";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
