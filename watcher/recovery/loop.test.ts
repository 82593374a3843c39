import { nextRecoveryOf } from "./policy.ts";
import type { V1Deployment, V1Node } from "@kubernetes/client-node";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { SURGE_STRATEGY } from "../../core/moveStrategy.ts";
import { Annotation, COMPUTE_LABEL } from "../../core/contract.ts";
import { loadConfig } from "../../core/config.ts";
import {
  FakeDeployments,
  recordingAlerter,
  recordingRecorder,
  unreachable,
} from "../../test/watcher/fakes.ts";
import type { NodeLookup } from "../cluster/nodeIndex.ts";
import { FollowUps } from "../moves/followUp.ts";
import { createWatcherMetrics } from "../metrics.ts";
import type { FollowResult } from "../moves/patches.ts";
import type { FollowRollout } from "../moves/rollout.ts";
import { InterruptionLog } from "./interruptionLog.ts";
import { Recovery } from "./loop.ts";
import { unrecordedMove } from "./policy.ts";

const MIN = 60_000;
const config = loadConfig({ env: { RECOVERY_MAX_CONCURRENT: "1" } }); // cooldown 45m, backoff 15m
const now = new Date("2026-11-30T12:00:00Z");
const ago = (minutes: number) => new Date(now.getTime() - minutes * MIN).toISOString();

const spotNode: V1Node = {
  metadata: { name: "spot-a", labels: { "eks.amazonaws.com/capacityType": "SPOT" } },
  status: {
    allocatable: { cpu: "4", memory: "8Gi", pods: "110" },
    conditions: [{ type: "Ready", status: "True" }],
  },
};

function onFargate(name: string, annotations: Record<string, string>, replicas = 1): V1Deployment {
  return {
    metadata: {
      name,
      namespace: "shop",
      labels: { [COMPUTE_LABEL]: "fargate" },
      annotations: {
        [Annotation.enabled]: "true",
        [Annotation.compute]: "fargate",
        [Annotation.reason]: "spot-interruption",
        [Annotation.rollout]: "healthy",
        [Annotation.changedAt]: ago(60),
        ...annotations,
      },
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "app", resources: { requests: { cpu: "1", memory: "1Gi" } } }] },
      },
    },
  };
}

const healthy: FollowResult = { ok: true, seconds: 30 };

/** Follow-ups that end only when the test says so, one after another. */
function gatedFollow() {
  const waiting: ((result: FollowResult) => void)[] = [];
  const follow: FollowRollout = () => new Promise((resolve) => waiting.push(resolve));
  return {
    follow,
    end: (result = healthy) => waiting.shift()?.(result),
    get pending() {
      return waiting.length;
    },
  };
}

function setup(follow: FollowResult | FollowRollout = healthy) {
  const deployments = new FakeDeployments();
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const recorder = recordingRecorder();
  const term = new AbortController();
  const common = {
    deployments,
    recorder,
    alerter: recordingAlerter(),
    metrics: createWatcherMetrics(),
    config,
    log,
    signal: term.signal,
    now: () => now,
  };
  const followRollout: FollowRollout = typeof follow === "function" ? follow : async () => follow;
  const followUps = new FollowUps({
    ...common,
    followRollout,
    writeRetryBaseMs: 1,
    nextRecovery: nextRecoveryOf(common.config.recovery),
  });
  const nodes: NodeLookup = {
    all: () => [spotNode],
    byName: () => undefined,
    byInstanceId: () => undefined,
    synced: Promise.resolve(),
  };
  const recovery = new Recovery({
    ...common,
    followUps,
    nodes,
    interruptions: new InterruptionLog(config.recovery.cooldown),
    listPods: async () => [],
  });
  /** Why each Deployment was left alone in pass `pass`. */
  const skipped = (pass: number) =>
    Object.fromEntries(
      lines
        .filter((l) => l["msg"] === "recovery skipped" && l["pass"] === pass)
        .map((l) => [l["name"], l["why"]]),
    );
  return { deployments, recovery, followUps, recorder, skipped };
}

describe("a recovery pass", () => {
  it("logs why it leaves each candidate alone", async () => {
    const { deployments, recovery, skipped } = setup();
    deployments.put(onFargate("manual", { [Annotation.reason]: "manual" }));
    deployments.put(onFargate("cooling", { [Annotation.changedAt]: ago(5) }));
    deployments.put(onFargate("huge", {}, 100));
    expect(await recovery.runOnce()).toEqual([]);
    expect(skipped(1)).toEqual({
      manual: "moved to fargate by a person (reason=manual)",
      cooling: "cooldown/backoff: next attempt in 40m (at 2026-11-30T12:40:00Z)",
      huge: "room for 4 of 100 replicas on matching spot nodes (free CPU/memory)",
    });
  });

  it("starts a due one back to spot, recording the move's time to the second and the label", async () => {
    const { deployments, recovery, recorder } = setup();
    deployments.put(onFargate("web", {}));
    expect(await recovery.runOnce()).toEqual(["shop/web"]);
    await recovery.idle();
    expect(deployments.writes[0]?.patch).toEqual({
      annotations: {
        [Annotation.compute]: "spot",
        [Annotation.reason]: "recovery",
        [Annotation.changedAt]: "2026-11-30T12:00:00Z",
        [Annotation.changedBy]: config.webhook.orchestratorUsername,
        [Annotation.lastRecoveryAt]: "2026-11-30T12:00:00Z",
        [Annotation.rollout]: "progressing",
        [Annotation.recoveringFrom]: "fargate",
        [Annotation.interruptedAt]: null,
        [Annotation.deadline]: null,
        [Annotation.strategy]: "{}",
      },
      labels: { [COMPUTE_LABEL]: "spot" },
      strategy: SURGE_STRATEGY,
    });
    expect(recorder.events.map((e) => e.reason)).toEqual(["RecoveringToSpot", "RecoveredToSpot"]);
  });

  it("recovers a Deployment on on-demand nodes by the same rules, remembering where it comes from", async () => {
    const { deployments, recovery, skipped } = setup();
    const onDemand = (name: string, annotations: Record<string, string>) => {
      const d = onFargate(name, { [Annotation.compute]: "on-demand", ...annotations });
      d.metadata!.labels![COMPUTE_LABEL] = "on-demand";
      return d;
    };
    deployments.put(onDemand("due", {}));
    deployments.put(onDemand("manual", { [Annotation.reason]: "manual" }));
    deployments.put(onDemand("cooling", { [Annotation.changedAt]: ago(5) }));
    expect(await recovery.runOnce()).toEqual(["shop/due"]);
    expect(skipped(1)).toEqual({
      manual: "moved to on-demand by a person (reason=manual)",
      cooling: "cooldown/backoff: next attempt in 40m (at 2026-11-30T12:40:00Z)",
    });
    await recovery.idle();
    expect(deployments.writes[0]?.patch.annotations?.[Annotation.recoveringFrom]).toBe("on-demand");
    expect(deployments.annotations("due")).toMatchObject({
      [Annotation.compute]: "spot",
      [Annotation.rollout]: "healthy",
    });
  });

  it("starts no more than recovery.max_concurrent at once", async () => {
    const gate = gatedFollow();
    const { deployments, recovery, skipped } = setup(gate.follow);
    deployments.put(onFargate("first", {}));
    deployments.put(onFargate("second", {}));
    expect(await recovery.runOnce()).toEqual(["shop/first"]);
    expect(skipped(1)).toEqual({ second: "1 Deployments already recovering (recovery.max_concurrent)" });
    await vi.waitFor(() => expect(gate.pending).toBe(1));
    gate.end();
    await recovery.idle();
    expect(await recovery.runOnce()).toEqual(["shop/second"]);
  });

  // A move to Fargate made while the webhook was down has no changed-at: read as time 0, it would go back
  // to spot at once, inside the cooldown.
  it("records the time of a move nobody recorded, and waits the cooldown from then", async () => {
    const { deployments, recovery, skipped } = setup();
    const unrecorded = onFargate("unseen", {});
    delete unrecorded.metadata!.annotations![Annotation.changedAt];
    deployments.put(unrecorded);
    expect(await recovery.runOnce()).toEqual([]);
    expect(skipped(1)).toEqual({ unseen: unrecordedMove("fargate") });
    expect(deployments.annotations("unseen")[Annotation.changedAt]).toBe("2026-11-30T12:00:00Z");
    expect(await recovery.runOnce()).toEqual([]);
    expect(skipped(2)).toEqual({ unseen: "cooldown/backoff: next attempt in 45m (at 2026-11-30T12:45:00Z)" });
  });

  // The verdict of a move is written once; if that write fails, the Deployment stays `progressing`, which
  // the policy skips as "still in progress": without anyone following it again, never to recover.
  it("follows again a move whose verdict could not be written, and recovers it once that is recorded", async () => {
    const gate = gatedFollow();
    const { deployments, recovery, followUps, skipped } = setup(gate.follow);
    const moved = deployments.put(onFargate("web", { [Annotation.rollout]: "progressing" }));
    for (let i = 0; i < 5; i++) deployments.failNext("patch", unreachable());
    const first = followUps.follow(moved);
    gate.end();
    await first;
    expect(deployments.annotations("web")[Annotation.rollout]).toBe("progressing");

    expect(await recovery.runOnce()).toEqual([]);
    expect(skipped(1)).toEqual({ web: "a move of it is being followed" });
    gate.end();
    await followUps.idle();
    expect(deployments.annotations("web")[Annotation.rollout]).toBe("healthy");
    expect(await recovery.runOnce()).toEqual(["shop/web"]);
    await vi.waitFor(() => expect(gate.pending).toBe(1));
    gate.end();
    await recovery.idle();
  });
});
