// Turns an SQS message body (an EventBridge envelope, directly or inside an SNS notification) into an
// Ec2Event. Only the fields the orchestrator uses are read: AWS varies ids, times, regions and ARNs.
import { isInstanceId } from "../../core/ec2.ts";
import { PermanentError } from "../../core/errors.ts";
import { parseTime } from "../../core/time.ts";
import { DETAIL_TYPES, EVENT_SOURCE, type Ec2Event, type EventKind } from "./ec2Event.ts";

const KIND_BY_DETAIL_TYPE = new Map<string, EventKind>(
  Object.entries(DETAIL_TYPES).map(([kind, detailType]) => [detailType, kind as EventKind]),
);

/** States of a state-change notification that mean the node is going away. */
const STOPPING_STATES: readonly string[] = ["stopping", "shutting-down"];

export function parseMessageBody(body: string): Ec2Event {
  const outer = parseObject(body, "message body");
  const envelope = outer["Type"] === "Notification" ? unwrapSns(outer) : outer;
  return parseEnvelope(envelope);
}

function unwrapSns(notification: Record<string, unknown>): Record<string, unknown> {
  const message = notification["Message"];
  if (typeof message !== "string") {
    throw new PermanentError("unparseable", "SNS notification without a string Message");
  }
  return parseObject(message, "SNS Message");
}

function parseEnvelope(envelope: Record<string, unknown>): Ec2Event {
  const source = envelope["source"];
  if (source !== EVENT_SOURCE) {
    throw new PermanentError("foreign-source", `event source ${describe(source)} is not ${EVENT_SOURCE}`);
  }
  const detailType = envelope["detail-type"];
  const kind = typeof detailType === "string" ? KIND_BY_DETAIL_TYPE.get(detailType) : undefined;
  if (kind === undefined) {
    throw new PermanentError("unknown-type", `detail-type ${describe(detailType)} is not handled`);
  }
  const id = envelope["id"];
  if (typeof id !== "string" || id.trim() === "") {
    throw new PermanentError("invalid", `${detailType} event without an id`);
  }
  const detail = envelope["detail"];
  if (!isObject(detail)) throw new PermanentError("invalid", `${detailType} event ${id} without a detail`);
  const instanceId = detail["instance-id"];
  if (!isInstanceId(instanceId)) {
    throw new PermanentError(
      "invalid",
      `${detailType} event ${id}: instance-id ${describe(instanceId)} is not an EC2 instance id`,
    );
  }

  let state: string | undefined;
  if (kind === "instance-stopping") {
    const value = detail["state"];
    if (typeof value !== "string" || !STOPPING_STATES.includes(value)) {
      throw new PermanentError(
        "ignored-state",
        `${detailType} event ${id}: state ${describe(value)} is not one of ${STOPPING_STATES.join(", ")}`,
      );
    }
    state = value;
  }

  return {
    id,
    kind,
    detailType: detailType as string,
    instanceId,
    region: stringOr(envelope["region"], ""),
    account: stringOr(envelope["account"], ""),
    // A missing or broken time must not lose an interruption; the arrival time is close enough.
    time: dateOf(envelope["time"]) ?? new Date(),
    deadline: kind === "spot-interruption" ? dateOf(detail["instance-action-time"]) : undefined,
    state,
  };
}

function parseObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new PermanentError("unparseable", `${what} is not JSON`, { cause: err });
  }
  if (!isObject(value)) throw new PermanentError("unparseable", `${what} is not a JSON object`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
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
