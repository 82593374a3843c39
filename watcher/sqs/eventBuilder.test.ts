import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildEventBridgeEvent, wrapInSnsNotification } from "./eventBuilder.ts";
import { parseMessageBody } from "./parseEvent.ts";

const fixture = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../../test/fixtures/aws-events/${name}.json`, import.meta.url), "utf8"),
  ) as Record<string, unknown>;

const time = new Date("2026-11-02T14:05:10.250Z");

describe("buildEventBridgeEvent", () => {
  it("builds a spot interruption shaped like the captured one: no instance-action-time unless asked", () => {
    const event = buildEventBridgeEvent({
      kind: "spot-interruption",
      instanceId: "i-0b662ef9931388ba0",
      region: "us-east-1",
      account: "123456789012",
      id: "1e5527d7-bb36-4607-3370-4164db56a40e",
      time,
    });
    const captured = fixture("spot-interruption-warning");
    expect(Object.keys(event).sort()).toEqual(Object.keys(captured).sort());
    expect(event).toMatchObject({ ...captured, resources: expect.any(Array) });
    expect(event.resources).toEqual(["arn:aws:ec2:us-east-1:123456789012:instance/i-0b662ef9931388ba0"]);
    const deadline = new Date("2026-11-02T14:06:00Z");
    expect(
      buildEventBridgeEvent({
        kind: "spot-interruption",
        instanceId: "i-0a1b2c3d",
        region: "eu-west-1",
        deadline,
      }).detail,
    ).toEqual({
      "instance-id": "i-0a1b2c3d",
      "instance-action": "terminate",
      "instance-action-time": "2026-11-02T14:06:00Z",
    });
  });

  it.each(["health-ec2-instance-retirement-scheduled", "autoscaling-instance-terminate-lifecycle-action"])(
    "builds events with the keys of %s",
    (name) => {
      const captured = fixture(name) as { source: string; detail: Record<string, unknown> };
      const kind = captured.source === "aws.health" ? "scheduled-change" : "asg-termination";
      const event = buildEventBridgeEvent({
        kind,
        instanceId: "i-0b662ef9931388ba0",
        region: "us-east-1",
        time,
      });
      expect(Object.keys(event).sort()).toEqual(Object.keys(captured).sort());
      // the Health detail's communicationId is AWS's own bookkeeping
      const keys = Object.keys(captured.detail).filter((k) => k !== "communicationId");
      expect(Object.keys(event.detail).sort()).toEqual(keys.sort());
    },
  );

  it.each([
    { kind: "spot-interruption", detail: { "instance-action": "terminate" } },
    { kind: "capacity-reservation-interruption", detail: { "instance-action": "terminate" } },
    { kind: "rebalance-recommendation", detail: {} },
    { kind: "instance-stopping", detail: { state: "stopping" } },
    { kind: "scheduled-change", detail: { eventTypeCode: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED" } },
    { kind: "asg-termination", detail: { LifecycleHookName: "spot-orchestrator" } },
  ] as const)("builds a $kind that the parser reads back", ({ kind, detail }) => {
    const deadline = new Date("2026-11-02T14:06:00Z");
    const built = buildEventBridgeEvent({
      kind,
      instanceId: "i-0a1b2c3d",
      region: "eu-west-1",
      time,
      deadline,
    });
    expect(built.detail).toMatchObject(detail);
    expect(built.id).toMatch(/^[0-9a-f-]{36}$/);
    for (const body of [JSON.stringify(built), JSON.stringify(wrapInSnsNotification(built))]) {
      const parsed = parseMessageBody(body);
      expect(parsed).toMatchObject({
        id: built.id,
        kind,
        detailType: built["detail-type"],
        instanceId: "i-0a1b2c3d",
        region: "eu-west-1",
        account: "000000000000",
        time: new Date("2026-11-02T14:05:10Z"),
      });
      if (kind !== "rebalance-recommendation" && kind !== "instance-stopping" && kind !== "asg-termination")
        expect(parsed.deadline).toEqual(deadline);
    }
  });

  it("uses the partition of the region in the instance ARN", () => {
    const arn = (region: string) =>
      buildEventBridgeEvent({ kind: "rebalance-recommendation", instanceId: "i-0a1b2c3d", region })
        .resources[0];
    expect(arn("cn-north-1")).toMatch(/^arn:aws-cn:ec2:cn-north-1:/);
    expect(arn("us-gov-west-1")).toMatch(/^arn:aws-us-gov:ec2:us-gov-west-1:/);
  });

  it("gives each event its own id", () => {
    const build = () =>
      buildEventBridgeEvent({ kind: "spot-interruption", instanceId: "i-0a1b2c3d", region: "us-east-1" });
    expect(build().id).not.toBe(build().id);
  });

  it("refuses an instance id AWS would never send", () => {
    expect(() =>
      buildEventBridgeEvent({ kind: "spot-interruption", instanceId: "ip-10-0-1-7", region: "us-east-1" }),
    ).toThrow(/not an EC2 instance id/);
  });
});
