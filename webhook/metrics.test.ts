import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createMetrics } from "./metrics.ts";

describe("the webhook's metrics", () => {
  it("are each listed in the README's metrics table", async () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const listed = new Set([...readme.matchAll(/`(spot_orchestrator_\w+)/g)].map((m) => m[1]));
    const exported = (await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name);
    expect(exported.filter((name) => !listed.has(name))).toEqual([]);
    expect(exported).toContain("spot_orchestrator_webhook_certificate_read_errors_total");
  });
});
