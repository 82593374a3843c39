import type { V1Deployment } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import type { Deployments } from "../moves/deployments.ts";
import { clearInventory, recordInventory, withInventory } from "./inventory.ts";
import { createWatcherMetrics } from "../metrics.ts";

const deployment = (name: string, annotations: Record<string, string>): V1Deployment => ({
  metadata: { namespace: "team-a", name, annotations: { [Annotation.enabled]: "true", ...annotations } },
});

const offSpot = (
  name: string,
  changedAt: string | undefined,
  reason = "spot-interruption",
  compute = "fargate",
) =>
  deployment(name, {
    [Annotation.compute]: compute,
    [Annotation.reason]: reason,
    ...(changedAt === undefined ? {} : { [Annotation.changedAt]: changedAt }),
  });

async function gauges(metrics: ReturnType<typeof createWatcherMetrics>) {
  const byCompute = Object.fromEntries(
    (await metrics.deployments.get()).values.map((v) => [v.labels.compute, v.value]),
  );
  const since = (await metrics.offSpotSince.get()).values.map((v) => ({ ...v.labels, value: v.value }));
  return { byCompute, since };
}

describe("inventory gauges", () => {
  it("count Deployments by compute and time each stint off spot from its changed-at", async () => {
    const metrics = createWatcherMetrics();
    recordInventory(metrics, [
      deployment("plain", {}),
      deployment("spot", { [Annotation.compute]: "spot" }),
      offSpot("moved", "2026-11-30T10:00:00Z"),
      offSpot("by-hand", "2026-11-30T11:00:00Z", "manual"),
      offSpot("fallback", "2026-11-30T12:00:00Z", "spot-interruption", "on-demand"),
      offSpot("unrecorded", undefined),
      deployment("bad", { [Annotation.compute]: "moon" }),
    ]);
    expect(await gauges(metrics)).toEqual({
      byCompute: { spot: 2, fargate: 3, "on-demand": 1 },
      since: [
        {
          deployment: "team-a/moved",
          compute: "fargate",
          reason: "spot-interruption",
          value: Date.UTC(2026, 10, 30, 10) / 1000,
        },
        {
          deployment: "team-a/by-hand",
          compute: "fargate",
          reason: "manual",
          value: Date.UTC(2026, 10, 30, 11) / 1000,
        },
        {
          deployment: "team-a/fallback",
          compute: "on-demand",
          reason: "spot-interruption",
          value: Date.UTC(2026, 10, 30, 12) / 1000,
        },
      ],
    });
  });

  it("drop the stint of a Deployment that went back to spot, and report zeros for an empty listing", async () => {
    const metrics = createWatcherMetrics();
    recordInventory(metrics, [offSpot("moved", "2026-11-30T10:00:00Z")]);
    recordInventory(metrics, [deployment("moved", { [Annotation.compute]: "spot" })]);
    expect(await gauges(metrics)).toEqual({ byCompute: { spot: 1, fargate: 0, "on-demand": 0 }, since: [] });
    recordInventory(metrics, []);
    expect(await gauges(metrics)).toEqual({ byCompute: { spot: 0, fargate: 0, "on-demand": 0 }, since: [] });
  });

  it("report nothing once cleared (a former leader)", async () => {
    const metrics = createWatcherMetrics();
    recordInventory(metrics, [offSpot("moved", "2026-11-30T10:00:00Z")]);
    clearInventory(metrics);
    expect(await gauges(metrics)).toEqual({ byCompute: {}, since: [] });
  });

  it("are set by every listing through the wrapped Deployments, until the term ends", async () => {
    const metrics = createWatcherMetrics();
    let listed = [offSpot("moved", "2026-11-30T10:00:00Z")];
    const inner = { list: () => Promise.resolve(listed) } as unknown as Deployments;
    const term = new AbortController();
    const deployments = withInventory(inner, metrics, term.signal);
    expect(await deployments.list()).toBe(listed);
    expect((await gauges(metrics)).byCompute).toEqual({ spot: 0, fargate: 1, "on-demand": 0 });
    term.abort();
    clearInventory(metrics);
    listed = [deployment("plain", {})];
    await deployments.list();
    expect(await gauges(metrics)).toEqual({ byCompute: {}, since: [] });
  });
});
