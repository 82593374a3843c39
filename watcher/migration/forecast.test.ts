import type { V1Deployment } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { atRisk } from "./forecast.ts";

const app = (name: string, replicas: number, grace = 30): V1Deployment => ({
  metadata: { name, namespace: "shop" },
  spec: {
    replicas,
    selector: {},
    template: { spec: { containers: [], terminationGracePeriodSeconds: grace } },
  },
});
const now = Date.parse("2026-12-04T10:00:00Z");
const deadline = new Date(now + 120_000);

describe("atRisk", () => {
  it("is empty when the start-up fits before the deadline less the grace period", () => {
    expect(atRisk([app("web", 8)], deadline, now, { expectedStartup: 60_000, launchRate: 20 })).toEqual([]);
  });

  it("names a Deployment whose start-up ends after its pods must go, with both times", () => {
    const late = atRisk([app("web", 3, 60)], deadline, now, { expectedStartup: 75_000, launchRate: 20 });
    expect(
      late.map((l) => [l.deployment.metadata?.name, l.readyBy.toISOString(), l.holdUntil.toISOString()]),
    ).toEqual([["web", "2026-12-04T10:01:15.000Z", "2026-12-04T10:01:00.000Z"]]);
  });

  it("launches the pods of the whole interruption at the account's rate, a burst of as many first", () => {
    // 20 at once, then 20 a second: the 400th pod launches 19 s after the flip
    const moved = [app("first", 20), app("middle", 180), app("last", 200)];
    const late = atRisk(moved, deadline, now, { expectedStartup: 75_000, launchRate: 20 });
    expect(late.map((l) => [l.deployment.metadata?.name, l.readyBy.toISOString()])).toEqual([
      ["last", "2026-12-04T10:01:34.000Z"],
    ]);
  });
});
