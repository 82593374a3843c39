import { ApiException, type V1Deployment, type V1Lease } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { Annotation } from "../core/contract.ts";
import { loadConfig } from "../core/config.ts";
import type { Kube } from "../core/kube.ts";
import { settingsAnnotations } from "../watcher/lease/settingsOnLease.ts";
import { effectiveSettings, formatTable, statusRows } from "./status.ts";

const now = Date.parse("2026-11-30T12:00:00Z");
const ago = (minutes: number) => new Date(now - minutes * 60_000).toISOString();
const local = loadConfig({ env: {} }); // cooldown 45m
const load = (flags = {}) => loadConfig({ env: {}, flags });

function deployment(name: string, annotations: Record<string, string>): V1Deployment {
  return {
    metadata: { name, namespace: "shop", annotations: { [Annotation.enabled]: "true", ...annotations } },
  };
}

const onFargate = (name: string, extra: Record<string, string> = {}) =>
  deployment(name, {
    [Annotation.compute]: "fargate",
    [Annotation.reason]: "spot-interruption",
    [Annotation.rollout]: "healthy",
    [Annotation.changedAt]: ago(10),
    [Annotation.changedBy]: "system:serviceaccount:so:so",
    ...extra,
  });

describe("statusRows", () => {
  it("says where each opted-in Deployment stands and when it may go back to spot", () => {
    const rows = statusRows(
      [
        deployment("on-spot", {}),
        onFargate("cooling"),
        onFargate("due", { [Annotation.changedAt]: ago(50) }),
        onFargate("manual", { [Annotation.reason]: "manual" }),
        deployment("broken", { [Annotation.compute]: "gpu" }),
      ],
      local,
      now,
    );
    expect(rows.map((r) => [r.name, r.compute, r.nextRecovery])).toEqual([
      ["broken", "invalid (gpu)", "-"],
      ["cooling", "fargate", "in 35m (at 2026-11-30T12:35:00Z)"],
      ["due", "fargate", "due (once spot has room)"],
      ["manual", "fargate", "none (moved to fargate by a person (reason=manual))"],
      ["on-spot", "spot", "-"],
    ]);
    expect(rows.find((r) => r.name === "cooling")?.changed).toBe("10m ago by system:serviceaccount:so:so");
    expect(formatTable(rows).split("\n")[0]).toMatch(/^NAMESPACE\s+NAME\s+COMPUTE/);
  });

  it("says so when recovery is off", () => {
    const off = loadConfig({ env: { RECOVERY_ENABLED: "false" } });
    expect(statusRows([onFargate("web")], off, now)[0]?.nextRecovery).toBe("recovery disabled");
  });
});

describe("effectiveSettings", () => {
  const kubeWith = (read: () => Promise<V1Lease>) =>
    ({ coordination: { readNamespacedLease: read } }) as unknown as Kube;

  // `status` run from a workstation has the defaults (45 m cooldown); the running watcher may not.
  it("computes the next recovery with the running leader's settings", async () => {
    const leader = loadConfig({ env: { RECOVERY_COOLDOWN: "15m" } });
    const lease: V1Lease = {
      metadata: { annotations: settingsAnnotations(leader) },
      spec: { holderIdentity: "watcher-7c9" },
    };
    const { config, source } = await effectiveSettings(
      kubeWith(async () => lease),
      load,
    );
    expect(source).toBe(
      "settings of the leader watcher (Lease default/spot-fargate-orchestrator, watcher-7c9)",
    );
    expect(statusRows([onFargate("web")], config, now)[0]?.nextRecovery).toBe(
      "in 5m (at 2026-11-30T12:05:00Z)",
    );
  });

  it("falls back to this machine's settings, and says why", async () => {
    const missing = new Error("connect ECONNREFUSED 127.0.0.1:6443");
    const notFound = new ApiException(404, "not found", {}, {});
    const { config, source } = await effectiveSettings(
      kubeWith(async () => Promise.reject(notFound)),
      load,
    );
    expect(config).toEqual(local);
    expect(source).toBe(
      "this machine's settings (no leader watcher's Lease default/spot-fargate-orchestrator)",
    );
    const down = await effectiveSettings(
      kubeWith(async () => Promise.reject(missing)),
      load,
    );
    expect(down.source).toBe(
      "this machine's settings (the Lease could not be read: connect ECONNREFUSED 127.0.0.1:6443)",
    );
  });
});
