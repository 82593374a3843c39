import { describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config.ts";
import { buildEventBridgeEvent, type BuildEventOptions } from "../sqs/eventBuilder.ts";
import { parseMessageBody } from "../sqs/parseEvent.ts";
import { eventAction } from "./eventAction.ts";

const event = (kind: BuildEventOptions["kind"], eventTypeCode?: string) =>
  parseMessageBody(
    JSON.stringify(
      buildEventBridgeEvent({
        kind,
        instanceId: "i-0a1b2c3d",
        region: "eu-west-1",
        ...(eventTypeCode ? { eventTypeCode } : {}),
      }),
    ),
  );
const migration = (env: Record<string, string> = {}) => loadConfig({ env }).migration;

describe("eventAction", () => {
  it.each([
    ["spot-interruption", undefined, "migrate"],
    ["capacity-reservation-interruption", undefined, "migrate"],
    ["instance-stopping", undefined, "migrate"],
    ["rebalance-recommendation", undefined, "alert"],
    ["scheduled-change", "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "migrate"],
    ["scheduled-change", "AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED", "migrate"],
    ["scheduled-change", "AWS_EC2_INSTANCE_STOP_SCHEDULED", "migrate"],
    ["scheduled-change", "AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED", "migrate"],
    ["scheduled-change", "AWS_EC2_SYSTEM_REBOOT_MAINTENANCE_SCHEDULED", "migrate"],
    ["scheduled-change", "AWS_EC2_INSTANCE_REBOOT_FLEXIBLE_MAINTENANCE_SCHEDULED", "migrate"],
    ["scheduled-change", "AWS_EC2_OPERATIONAL_NOTIFICATION", "alert"],
    ["asg-termination", undefined, "migrate"],
  ] as const)("with the defaults, %s %s: %s", (kind, code, action) => {
    expect(eventAction(event(kind, code), migration()).action).toBe(action);
  });

  it.each([
    ["rebalance-recommendation", { REBALANCE_ACTION: "migrate" }, "migrate"],
    ["scheduled-change", { SCHEDULED_CHANGE_ACTION: "alert" }, "alert"],
    ["asg-termination", { ASG_TERMINATION_ACTION: "alert" }, "alert"],
    ["spot-interruption", { REBALANCE_ACTION: "alert", SCHEDULED_CHANGE_ACTION: "alert" }, "migrate"],
  ] as const)("%s with %o: %s", (kind, env, action) => {
    const decided = eventAction(event(kind), migration(env));
    expect(decided.action).toBe(action);
    if (decided.action === "alert") expect(decided.why).toMatch(/alert only \([A-Z_]+=alert\)$/);
  });
});
