import { describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config.ts";
import { settingsAnnotations, settingsOnLease } from "./settingsOnLease.ts";

describe("the leader's settings on its Lease", () => {
  it("read back into the same recovery settings", () => {
    const leader = loadConfig({
      env: { RECOVERY_COOLDOWN: "10m", RECOVERY_BACKOFF_BASE: "1500ms", RECOVERY_ENABLED: "false" },
    });
    const flags = settingsOnLease({ metadata: { annotations: settingsAnnotations(leader) } });
    expect(loadConfig({ env: {}, flags }).recovery).toEqual(leader.recovery);
  });

  it.each([
    ["no annotation", {}],
    ["not JSON", { "spot-orchestrator.io/recovery-settings": "{" }],
    ["not an object", { "spot-orchestrator.io/recovery-settings": "42" }],
  ])("are absent with %s", (_what, annotations) => {
    expect(settingsOnLease({ metadata: { annotations } })).toBeUndefined();
  });

  it("keep only recovery settings", () => {
    const annotations = {
      "spot-orchestrator.io/recovery-settings": JSON.stringify({
        "recovery.cooldown": "5m",
        "aws.region": "x",
      }),
    };
    expect(settingsOnLease({ metadata: { annotations } })).toEqual({ "recovery.cooldown": "5m" });
  });
});
