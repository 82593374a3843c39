import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createWatcherMetrics } from "./metrics.ts";

describe("the watcher's metrics", () => {
  it("are each listed in the README's metrics table", async () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const listed = new Set([...readme.matchAll(/`(spot_orchestrator_\w+)/g)].map((m) => m[1]));
    const own = (await createWatcherMetrics().registry.getMetricsAsJSON())
      .map((m) => m.name)
      .filter((name) => name.startsWith("spot_orchestrator_"));
    expect(own.filter((name) => !listed.has(name))).toEqual([]);
    expect(own).toContain("spot_orchestrator_drain_guards_total");
  });

  it("start the label values each area declares at 0", async () => {
    const text = await createWatcherMetrics().registry.metrics();
    expect(text).toContain(
      'spot_orchestrator_events_received_total{type="spot-interruption",result="given-up"} 0',
    );
    expect(text).toContain('spot_orchestrator_drain_guards_total{result="failed"} 0');
    expect(text).toContain('spot_orchestrator_rollouts_total{compute="fargate",result="failed"} 0');
    expect(text).toContain('spot_orchestrator_deployments_skipped_total{why="already-on-demand"} 0');
  });
});
