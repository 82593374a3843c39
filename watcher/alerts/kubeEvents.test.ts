import { describe, expect, it } from "vitest";
import { eventBody, referenceTo, REPORTING_CONTROLLER, truncateUtf8 } from "./kubeEvents.ts";

describe("eventBody", () => {
  it("describes an events.k8s.io/v1 Event regarding the Deployment", () => {
    const deployment = { metadata: { namespace: "shop", name: "web", uid: "u1", resourceVersion: "42" } };
    const body = eventBody(
      referenceTo(deployment),
      { type: "Warning", reason: "FargateIncompatible", action: "Migrate", note: "x".repeat(2000) },
      "watcher-0",
    );
    expect(body).toMatchObject({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { namespace: "shop" },
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: "watcher-0",
      action: "Migrate",
      reason: "FargateIncompatible",
      type: "Warning",
      regarding: { apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "web", uid: "u1" },
    });
    expect(body.metadata?.name).toMatch(/^web\.[0-9a-f]+$/);
    expect(Buffer.byteLength(body.note!)).toBeLessThanOrEqual(1024);
    expect(JSON.parse(JSON.stringify(body)).eventTime).toMatch(/^\d{4}-\d\d-\d\dT[\d:]+\.\d{6}Z$/);
  });
});

describe("truncateUtf8", () => {
  it.each([
    ["short", 10, "short"],
    ["abcdefghij", 10, "abcdefghij"],
    ["abcdefghijk", 10, "abcdefg..."],
    ["ééééé", 8, "éé..."],
  ])("%s (%i bytes)", (text, max, expected) => {
    const out = truncateUtf8(text, max);
    expect(out).toBe(expected);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(max);
  });
});
