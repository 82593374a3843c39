import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PermanentError } from "../../core/errors.ts";
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
  it.each([
    {
      file: "spot-interruption-warning",
      kind: "spot-interruption",
      id: "1e5527d7-bb36-4607-3370-4164db56a40e",
      instanceId: "i-0b662ef9931388ba0",
      region: "us-east-1",
      time: "2026-11-02T14:05:10.000Z",
      deadline: undefined,
      state: undefined,
    },
    {
      file: "sns-wrapped-spot-interruption-warning",
      kind: "spot-interruption",
      id: "1e5527d7-bb36-4607-3370-4164db56a40e",
      instanceId: "i-0b662ef9931388ba0",
      region: "us-east-1",
      time: "2026-11-02T14:05:10.000Z",
      deadline: undefined,
      state: undefined,
    },
    {
      file: "spot-interruption-warning-with-action-time",
      kind: "spot-interruption",
      id: "a3f1c9e2-5b7d-4e61-9f0a-2c8d4b6e1f37",
      instanceId: "i-0a1b2c3d",
      region: "eu-west-1",
      time: "2026-11-03T08:15:42.000Z",
      deadline: "2026-11-03T08:17:42.000Z",
      state: undefined,
    },
    {
      file: "rebalance-recommendation",
      kind: "rebalance-recommendation",
      id: "5d5b6c3e-0f6e-1c5b-3b7e-2d1f0d8c9a11",
      instanceId: "i-0b662ef9931388ba0",
      region: "us-east-1",
      time: "2026-11-02T13:51:02.000Z",
      deadline: undefined,
      state: undefined,
    },
    {
      file: "sns-wrapped-rebalance-recommendation",
      kind: "rebalance-recommendation",
      id: "e1d2c3b4-a5f6-4789-8abc-def012345678",
      instanceId: "i-0c7d8e9f0a1b2c3d4",
      region: "ap-southeast-2",
      time: "2026-11-04T22:01:09.000Z",
      deadline: undefined,
      state: undefined,
    },
    {
      file: "instance-state-change-stopping",
      kind: "instance-stopping",
      id: "7bf73129-1428-4cd3-a780-95db273d1602",
      instanceId: "i-0b662ef9931388ba0",
      region: "us-east-1",
      time: "2026-11-02T14:06:58.000Z",
      deadline: undefined,
      state: "stopping",
    },
    {
      file: "instance-state-change-shutting-down",
      kind: "instance-stopping",
      id: "c4e0b1a7-8d2f-4f3e-b6a9-71d05e2c8b44",
      instanceId: "i-0b662ef9931388ba0",
      region: "us-gov-west-1",
      time: "2026-11-02T14:07:13.000Z",
      deadline: undefined,
      state: "shutting-down",
    },
  ])("$file → $kind", ({ file, kind, id, instanceId, region, time, deadline, state }) => {
    const event = parseMessageBody(fixture(file));
    expect(event).toEqual({
      id,
      kind,
      detailType: expect.any(String),
      instanceId,
      region,
      account: expect.stringMatching(/^\d{12}$/),
      time: new Date(time),
      deadline: deadline === undefined ? undefined : new Date(deadline),
      state,
    });
  });

  it.each([
    { file: "instance-state-change-running", kind: "ignored-state" },
    { file: "foreign-source-autoscaling", kind: "foreign-source" },
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

  it("keeps a spot interruption whose time is missing or broken, with no deadline from a broken one", () => {
    const event = parseMessageBody(
      JSON.stringify({
        ...spot(),
        time: "yesterday",
        detail: { "instance-id": "i-0b662ef9931388ba0", "instance-action-time": "soon" },
      }),
    );
    expect(event.kind).toBe("spot-interruption");
    expect(event.time).toBeInstanceOf(Date);
    expect(Number.isNaN(event.time.getTime())).toBe(false);
    expect(event.deadline).toBeUndefined();
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
          source: fc.oneof(fc.constant("aws.ec2"), anything),
          "detail-type": fc.oneof(
            fc.constantFrom(
              "EC2 Spot Instance Interruption Warning",
              "EC2 Instance Rebalance Recommendation",
              "EC2 Instance State-change Notification",
            ),
            anything,
          ),
          time: anything,
          region: anything,
          detail: fc.oneof(
            fc.record({ "instance-id": anything, state: anything, "instance-action-time": anything }),
            anything,
          ),
        }),
        (envelope) => isOnlyPermanent(JSON.stringify(envelope)),
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
