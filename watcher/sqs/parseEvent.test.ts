import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PermanentError } from "../../core/errors.ts";
import { EVENT_TYPES } from "./interruptionEvent.ts";
import { parseMessageBody } from "./parseEvent.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../../test/fixtures/aws-events/${name}.json`, import.meta.url), "utf8");

function permanentKind(body: string): string {
  try {
    parseMessageBody(body);
  } catch (err) {
    if (err instanceof PermanentError) return err.kind;
    throw err;
  }
  throw new Error("parsed without an error");
}

describe("parseMessageBody over the captured AWS events", () => {
  const common = (id: string, instanceId: string, region: string, time: string) => ({
    id,
    detailType: expect.any(String),
    instanceId,
    region,
    account: expect.stringMatching(/^\d{12}$/),
    time: new Date(time),
  });
  const spot = "i-0b662ef9931388ba0";

  it.each([
    {
      file: "spot-interruption-warning",
      // as AWS sends it, without instance-action-time: the event's time plus two minutes
      event: {
        ...common("1e5527d7-bb36-4607-3370-4164db56a40e", spot, "us-east-1", "2026-11-02T14:05:10Z"),
        kind: "spot-interruption",
        deadline: new Date("2026-11-02T14:07:10Z"),
      },
    },
    {
      file: "sns-wrapped-spot-interruption-warning",
      event: {
        ...common("1e5527d7-bb36-4607-3370-4164db56a40e", spot, "us-east-1", "2026-11-02T14:05:10Z"),
        kind: "spot-interruption",
        deadline: new Date("2026-11-02T14:07:10Z"),
      },
    },
    {
      file: "spot-interruption-warning-with-action-time",
      event: {
        ...common("a3f1c9e2-5b7d-4e61-9f0a-2c8d4b6e1f37", "i-0a1b2c3d", "eu-west-1", "2026-11-03T08:15:42Z"),
        kind: "spot-interruption",
        deadline: new Date("2026-11-03T08:17:42Z"),
      },
    },
    {
      file: "capacity-reservation-interruption-warning",
      // an interruptible reservation's instance: its own termination time when given
      event: {
        ...common("9c2e4f61-3b7a-4d85-a1e0-6f8b2c4d7e90", spot, "us-east-1", "2026-11-05T09:12:30Z"),
        kind: "capacity-reservation-interruption",
        deadline: new Date("2026-11-05T09:14:30Z"),
      },
    },
    {
      file: "rebalance-recommendation",
      event: {
        ...common("5d5b6c3e-0f6e-1c5b-3b7e-2d1f0d8c9a11", spot, "us-east-1", "2026-11-02T13:51:02Z"),
        kind: "rebalance-recommendation",
      },
    },
    {
      file: "sns-wrapped-rebalance-recommendation",
      event: {
        ...common(
          "e1d2c3b4-a5f6-4789-8abc-def012345678",
          "i-0c7d8e9f0a1b2c3d4",
          "ap-southeast-2",
          "2026-11-04T22:01:09Z",
        ),
        kind: "rebalance-recommendation",
      },
    },
    {
      file: "instance-state-change-stopping",
      event: {
        ...common("7bf73129-1428-4cd3-a780-95db273d1602", spot, "us-east-1", "2026-11-02T14:06:58Z"),
        kind: "instance-stopping",
        state: "stopping",
      },
    },
    {
      file: "instance-state-change-shutting-down",
      event: {
        ...common("c4e0b1a7-8d2f-4f3e-b6a9-71d05e2c8b44", spot, "us-gov-west-1", "2026-11-02T14:07:13Z"),
        kind: "instance-stopping",
        state: "shutting-down",
      },
    },
    {
      file: "instance-state-change-terminated",
      event: {
        ...common("3d9a6b52-7e1c-4f08-b2a4-0c5e8d7f6a13", spot, "us-east-1", "2026-11-02T14:08:41Z"),
        kind: "instance-stopping",
        state: "terminated",
      },
    },
    {
      file: "health-ec2-instance-retirement-scheduled",
      event: {
        ...common("2e8f7c31-6a4b-4d0e-9b1f-5c3a7d9e0f12", spot, "us-east-1", "2026-11-02T09:00:00Z"),
        kind: "scheduled-change",
        instanceIds: [spot],
        eventTypeCode: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
        statusCode: "upcoming",
        deadline: new Date("2026-11-16T09:00:00Z"),
      },
    },
    {
      file: "autoscaling-instance-terminate-lifecycle-action",
      event: {
        ...common("468fcd0c-9a1b-4e2c-8d3f-7a6b5c4d3e2f", spot, "us-east-1", "2026-11-02T14:10:02Z"),
        kind: "asg-termination",
        lifecycle: {
          autoScalingGroupName: "eks-spot-workers-a4c6e8f0-1b3d-5f7a-9c1e-3b5d7f9a1c3e",
          lifecycleHookName: "Terminate-LC-Hook",
          lifecycleActionToken: "b2a9c6e1-4d3f-4a8b-9e7c-1f0d2e3c4b5a",
        },
      },
    },
    {
      file: "autoscaling-instance-terminate-lifecycle-action-self-managed",
      event: {
        ...common("6f2e9d1c-3b4a-4e5f-8a7b-9c0d1e2f3a4b", spot, "us-east-1", "2026-11-02T14:05:30Z"),
        kind: "asg-termination",
        lifecycle: {
          autoScalingGroupName: "spot-workers",
          lifecycleHookName: "drain",
          lifecycleActionToken: "87654321-4321-4321-4321-210987654321",
        },
      },
    },
    {
      // a hook whose notification target is the queue itself: no envelope, read as the EventBridge form
      file: "autoscaling-hook-notification-terminate",
      event: {
        ...common("4e7a1c92-5d3b-4f60-8a2e-9b1c7d5e3f04", spot, "", "2026-11-02T14:05:31.418Z"),
        kind: "asg-termination",
        detailType: "EC2 Instance-terminate Lifecycle Action",
        lifecycle: {
          autoScalingGroupName: "spot-workers",
          lifecycleHookName: "nth-terminate",
          lifecycleActionToken: "c8f2a6d4-1e9b-4c73-b5a0-2d6e8f1a3c57",
        },
      },
    },
    {
      file: "sns-wrapped-autoscaling-hook-notification",
      event: {
        ...common("7b3d5f10-2c8e-4a96-b1d7-5e0f9a3c6b28", spot, "", "2026-11-02T14:05:31.418Z"),
        kind: "asg-termination",
        lifecycle: {
          autoScalingGroupName: "spot-workers",
          lifecycleHookName: "nth-terminate",
          lifecycleActionToken: "e5a1c7b3-8d2f-4e69-a0b4-6c3f1d9e7a52",
        },
      },
    },
  ])("$file → $event.kind", ({ file, event }) => {
    expect(parseMessageBody(fixture(file))).toEqual(event);
  });

  it.each([
    { file: "instance-state-change-running", kind: "ignored-state" },
    { file: "autoscaling-hook-notification-test", kind: "ignored-transition" },
    { file: "health-ec2-operational-issue", kind: "ignored-health-event" },
    { file: "unknown-detail-type", kind: "unknown-type" },
    { file: "invalid-instance-id", kind: "invalid" },
  ])("$file → PermanentError $kind", ({ file, kind }) => {
    expect(permanentKind(fixture(file))).toBe(kind);
  });
});

describe("parseMessageBody on broken bodies", () => {
  const spot = () => JSON.parse(fixture("spot-interruption-warning")) as Record<string, unknown>;
  const withDetail = (detail: unknown) => JSON.stringify({ ...spot(), detail });

  it.each([
    { what: "empty body", body: "", kind: "unparseable" },
    { what: "truncated JSON", body: fixture("spot-interruption-warning").slice(0, 120), kind: "unparseable" },
    { what: "JSON array", body: "[1,2]", kind: "unparseable" },
    { what: "JSON string", body: '"hello"', kind: "unparseable" },
    { what: "JSON null", body: "null", kind: "unparseable" },
    { what: "SNS Message not JSON", body: '{"Type":"Notification","Message":"{oops"}', kind: "unparseable" },
    { what: "SNS without Message", body: '{"Type":"Notification"}', kind: "unparseable" },
    { what: "no source", body: JSON.stringify({ ...spot(), source: undefined }), kind: "foreign-source" },
    { what: "no detail-type", body: JSON.stringify({ ...spot(), "detail-type": 7 }), kind: "unknown-type" },
    { what: "no id", body: JSON.stringify({ ...spot(), id: "" }), kind: "invalid" },
    { what: "no detail", body: withDetail(undefined), kind: "invalid" },
    { what: "detail is a string", body: withDetail("i-0b662ef9931388ba0"), kind: "invalid" },
    { what: "no instance id", body: withDetail({}), kind: "invalid" },
    { what: "short instance id", body: withDetail({ "instance-id": "i-0b662ef" }), kind: "invalid" },
    {
      what: "upper-case instance id",
      body: withDetail({ "instance-id": "i-0B662EF9931388BA0" }),
      kind: "invalid",
    },
    { what: "10-hex instance id", body: withDetail({ "instance-id": "i-0b662ef993" }), kind: "invalid" },
  ])("$what → $kind", ({ body, kind }) => {
    expect(permanentKind(body)).toBe(kind);
  });

  it("keeps a spot interruption whose time or deadline is broken: two minutes from its arrival", () => {
    const before = Date.now();
    const event = parseMessageBody(
      JSON.stringify({
        ...spot(),
        time: "yesterday",
        detail: { "instance-id": "i-0b662ef9931388ba0", "instance-action-time": "soon" },
      }),
    );
    expect(event.kind).toBe("spot-interruption");
    expect(event.time.getTime()).toBeGreaterThanOrEqual(before);
    expect(event.deadline!.getTime() - event.time.getTime()).toBe(120_000);
  });

  it("reads the fields it needs whatever else the envelope carries", () => {
    const event = parseMessageBody(
      JSON.stringify({
        ...spot(),
        version: "1",
        resources: [],
        region: "me-central-1",
        extra: { nested: [1, 2, 3] },
        detail: { "instance-id": "i-0b662ef9931388ba0", "instance-action": "hibernate", more: true },
      }),
    );
    expect(event).toMatchObject({ instanceId: "i-0b662ef9931388ba0", region: "me-central-1" });
  });
});

describe("parseMessageBody on AWS Health and Auto Scaling events it does not act on", () => {
  type Envelope = Record<string, unknown> & { detail: Record<string, unknown> };
  type Change = (detail: Record<string, unknown>, event: Envelope) => void;
  const changed = (name: string, change: Change) => {
    const event = JSON.parse(fixture(name)) as Envelope;
    change(event.detail, event);
    return JSON.stringify(event);
  };
  const withHealth = (change: Change) => changed("health-ec2-instance-retirement-scheduled", change);
  const withLifecycle = (change: Change) =>
    changed("autoscaling-instance-terminate-lifecycle-action", change);
  const withHook = (change: (notification: Record<string, unknown>) => void) => {
    const notification = JSON.parse(fixture("autoscaling-hook-notification-terminate")) as Record<
      string,
      unknown
    >;
    change(notification);
    return JSON.stringify(notification);
  };

  it.each([
    {
      what: "another service",
      body: withHealth((d) => (d["service"] = "RDS")),
      kind: "ignored-health-event",
    },
    {
      what: "an issue",
      body: withHealth((d) => (d["eventTypeCategory"] = "issue")),
      kind: "ignored-health-event",
    },
    {
      what: "a closed change",
      body: withHealth((d) => (d["statusCode"] = "closed")),
      kind: "ignored-health-event",
    },
    {
      what: "a change of a dedicated host",
      body: withHealth((d, e) => {
        d["affectedEntities"] = [{ entityValue: "h-0123456789abcdef0" }];
        e["resources"] = ["h-0123456789abcdef0"];
      }),
      kind: "ignored-health-event",
    },
    {
      what: "a launch lifecycle action",
      body: withLifecycle((d, e) => {
        e["detail-type"] = "EC2 Instance-launch Lifecycle Action";
        d["LifecycleTransition"] = "autoscaling:EC2_INSTANCE_LAUNCHING";
      }),
      kind: "unknown-type",
    },
    {
      what: "a test notification",
      body: withLifecycle((d) => (d["LifecycleTransition"] = "autoscaling:TEST_NOTIFICATION")),
      kind: "ignored-transition",
    },
    {
      what: "a lifecycle action without a token",
      body: withLifecycle((d) => delete d["LifecycleActionToken"]),
      kind: "invalid",
    },
    {
      what: "a lifecycle action without an instance",
      body: withLifecycle((d) => delete d["EC2InstanceId"]),
      kind: "invalid",
    },
    {
      what: "a hook notification of a launch",
      body: withHook((n) => (n["LifecycleTransition"] = "autoscaling:EC2_INSTANCE_LAUNCHING")),
      kind: "ignored-transition",
    },
    {
      what: "a hook notification without a token",
      body: withHook((n) => delete n["LifecycleActionToken"]),
      kind: "invalid",
    },
    {
      what: "a hook notification without an id of any kind",
      body: withHook((n) => {
        delete n["RequestId"];
        delete n["LifecycleActionToken"];
      }),
      kind: "invalid",
    },
    {
      what: "a group's own notification of a termination (not a lifecycle action)",
      body: JSON.stringify({
        Service: "AWS Auto Scaling",
        Event: "autoscaling:EC2_INSTANCE_TERMINATE",
        AutoScalingGroupName: "spot-workers",
        EC2InstanceId: "i-0b662ef9931388ba0",
        RequestId: "926c4ae3-8181-4668-bcd1-6febc7668d18",
      }),
      kind: "ignored-transition",
    },
    {
      what: "an object that is neither an EventBridge event nor a hook notification",
      body: JSON.stringify({ EC2InstanceId: "i-0b662ef9931388ba0" }),
      kind: "foreign-source",
    },
  ])("$what → $kind", ({ body, kind }) => {
    expect(permanentKind(body)).toBe(kind);
  });

  it("takes a hook notification's token for its id when it has no RequestId", () => {
    const body = withHook((n) => delete n["RequestId"]);
    expect(parseMessageBody(body)).toMatchObject({
      kind: "asg-termination",
      id: "c8f2a6d4-1e9b-4c73-b5a0-2d6e8f1a3c57",
    });
  });

  it("names every affected instance of a scheduled change once, from affectedEntities and resources ARNs", () => {
    const body = withHealth((d, e) => {
      d["affectedEntities"] = [{ entityValue: "i-0b662ef9931388ba0" }, { entityValue: "i-0a1b2c3d" }, {}];
      e["resources"] = [
        "arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-0c7d8e9f0a1b2c3d4",
      ];
    });
    expect(parseMessageBody(body)).toMatchObject({
      instanceId: "i-0b662ef9931388ba0",
      instanceIds: ["i-0b662ef9931388ba0", "i-0a1b2c3d", "i-0c7d8e9f0a1b2c3d4"],
    });
  });
});

describe("parseMessageBody properties", () => {
  const isOnlyPermanent = (body: string) => {
    try {
      parseMessageBody(body);
      return true;
    } catch (err) {
      return err instanceof PermanentError;
    }
  };

  it("never throws anything but PermanentError for any string", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), isOnlyPermanent), { numRuns: 500 });
  });

  it("never throws anything but PermanentError for any JSON value, direct or SNS-wrapped", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (value, wrap) => {
        const body = JSON.stringify(value) ?? "";
        return isOnlyPermanent(wrap ? JSON.stringify({ Type: "Notification", Message: body }) : body);
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws anything but PermanentError for envelopes with arbitrary field values", () => {
    const anything = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    fc.assert(
      fc.property(
        fc.record({
          id: anything,
          source: fc.oneof(fc.constantFrom("aws.ec2", "aws.health", "aws.autoscaling"), anything),
          "detail-type": fc.oneof(
            fc.constantFrom(...Object.values(EVENT_TYPES).map((t) => t.detailType)),
            anything,
          ),
          time: anything,
          region: anything,
          resources: anything,
          detail: fc.oneof(
            fc.record({ "instance-id": anything, state: anything, "instance-action-time": anything }),
            fc.record({
              service: fc.oneof(fc.constant("EC2"), anything),
              eventTypeCategory: fc.oneof(fc.constant("scheduledChange"), anything),
              statusCode: anything,
              startTime: anything,
              affectedEntities: fc.oneof(fc.array(fc.record({ entityValue: anything })), anything),
            }),
            fc.record({
              EC2InstanceId: anything,
              LifecycleTransition: fc.oneof(fc.constant("autoscaling:EC2_INSTANCE_TERMINATING"), anything),
              AutoScalingGroupName: anything,
              LifecycleHookName: anything,
              LifecycleActionToken: anything,
            }),
            anything,
          ),
        }),
        (envelope) => isOnlyPermanent(JSON.stringify(envelope)),
      ),
      { numRuns: 2000 },
    );
  });

  it("never throws anything but PermanentError for hook notifications with arbitrary field values", () => {
    const anything = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    fc.assert(
      fc.property(
        fc.record({
          Service: fc.oneof(fc.constant("AWS Auto Scaling"), anything),
          Event: fc.oneof(fc.constant("autoscaling:TEST_NOTIFICATION"), anything),
          RequestId: anything,
          Time: anything,
          AccountId: anything,
          AutoScalingGroupARN: anything,
          EC2InstanceId: anything,
          LifecycleTransition: fc.oneof(fc.constant("autoscaling:EC2_INSTANCE_TERMINATING"), anything),
          AutoScalingGroupName: anything,
          LifecycleHookName: anything,
          LifecycleActionToken: anything,
        }),
        (notification) => isOnlyPermanent(JSON.stringify(notification)),
      ),
      { numRuns: 2000 },
    );
  });

  it("parses any well-formed event whatever its ids, times, regions and ARNs", () => {
    const hex = (length: number) =>
      fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length });
    fc.assert(
      fc.property(
        fc.uuid(),
        fc.oneof(hex(8), hex(17)).map((h) => `i-${h}`),
        fc.constantFrom("us-east-1", "eu-central-2", "ap-southeast-4", "us-gov-east-1", "cn-north-1"),
        fc.date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }),
        fc.array(fc.string(), { maxLength: 3 }),
        (id, instanceId, region, time, resources) => {
          const event = parseMessageBody(
            JSON.stringify({
              version: "0",
              id,
              "detail-type": "EC2 Spot Instance Interruption Warning",
              source: "aws.ec2",
              account: "123456789012",
              time: time.toISOString(),
              region,
              resources,
              detail: { "instance-id": instanceId, "instance-action-time": time.toISOString() },
            }),
          );
          expect(event).toMatchObject({ id, instanceId, region, time, deadline: time });
        },
      ),
      { numRuns: 500 },
    );
  });
});
