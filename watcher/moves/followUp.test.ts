import { nextRecoveryOf } from "../recovery/policy.ts";
import type { V1Deployment } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { statusRows } from "../../cli/status.ts";
import { Annotation, COMPUTE_LABEL } from "../../core/contract.ts";
import { loadConfig } from "../../core/config.ts";
import { quietLog as log } from "../../test/support/log.ts";
import {
  FakeDeployments,
  recordingAlerter,
  recordingRecorder,
  unavailable,
  unreachable,
} from "../../test/watcher/fakes.ts";
import { summarizeMigrations } from "../migration/report.ts";
import { FollowUps } from "./followUp.ts";
import { createWatcherMetrics } from "../metrics.ts";
import type { FollowResult } from "./patches.ts";
import type { FollowRollout } from "./rollout.ts";

const USER = "system:serviceaccount:so:so";
const config = loadConfig({ env: { ORCHESTRATOR_USERNAME: USER } }); // cooldown 45m, backoff 15m .. 4h
const now = new Date("2026-11-30T10:48:00Z");
const attemptStart = "2026-11-30T10:45:00Z";

function setup(follow: FollowResult | FollowRollout, released: string[] = []) {
  const deployments = new FakeDeployments();
  const alerter = recordingAlerter();
  const recorder = recordingRecorder();
  const metrics = createWatcherMetrics();
  const term = new AbortController();
  const followRollout: FollowRollout = typeof follow === "function" ? follow : async () => follow;
  const followUps = new FollowUps({
    deployments,
    followRollout,
    recorder,
    alerter,
    metrics,
    config,
    log,
    signal: term.signal,
    now: () => now,
    writeRetryBaseMs: 1,
    nextRecovery: nextRecoveryOf(config.recovery),
    guards: { release: async (ref, why) => void released.push(`${ref.namespace}/${ref.name} ${why}`) },
  });
  return { deployments, alerter, recorder, metrics, term, followUps, released };
}

function web(annotations: Record<string, string>): V1Deployment {
  return {
    metadata: {
      name: "web",
      namespace: "shop",
      labels: { [COMPUTE_LABEL]: annotations[Annotation.compute] ?? "spot" },
      annotations: { [Annotation.enabled]: "true", [Annotation.rollout]: "progressing", ...annotations },
    },
  };
}

const movingToFargate = web({
  [Annotation.compute]: "fargate",
  [Annotation.reason]: "spot-interruption",
  [Annotation.changedAt]: "2026-11-30T10:00:00Z",
});
const recovering = web({
  [Annotation.compute]: "spot",
  [Annotation.reason]: "recovery",
  [Annotation.changedAt]: attemptStart,
  [Annotation.lastRecoveryAt]: attemptStart,
  [Annotation.failedRecoveryAttempts]: "1",
});

const movingToOnDemand = web({
  [Annotation.compute]: "on-demand",
  [Annotation.reason]: "spot-interruption",
  [Annotation.changedAt]: "2026-11-30T10:00:00Z",
});
const recoveringFromOnDemand = web({
  [Annotation.compute]: "spot",
  [Annotation.reason]: "recovery",
  [Annotation.changedAt]: attemptStart,
  [Annotation.lastRecoveryAt]: attemptStart,
  [Annotation.recoveringFrom]: "on-demand",
});

const healthy: FollowResult = { ok: true, seconds: 42 };
const unhealthy: FollowResult = { ok: false, why: "pod web-1 is not Ready" };
/** A recovery that fails; its rollback (a move off spot) goes as `rollback` says. */
const recoveryFails =
  (rollback: FollowResult): FollowRollout =>
  async (_ref, target) =>
    target === "spot" ? unhealthy : rollback;

describe("a follow-up's verdict", () => {
  it.each([
    {
      what: "a move to Fargate that became healthy",
      stored: movingToFargate,
      result: healthy,
      annotations: { [Annotation.rollout]: "healthy" },
      events: ["MigratedToFargate"],
      problems: 0,
      summaries: 0,
    },
    {
      what: "a move to Fargate that failed",
      stored: movingToFargate,
      result: unhealthy,
      annotations: { [Annotation.rollout]: "failed: pod web-1 is not Ready" },
      events: ["MigrationFailed"],
      problems: 1,
      summaries: 0,
    },
    {
      what: "a move to Fargate whose pods stayed Pending: PendingOnFargate, with the scheduler's reason",
      stored: movingToFargate,
      result: {
        ok: false,
        why: "pod web-1 Pending for 1m30s: FailedScheduling (fargate-scheduler): Your AWS account has reached the limit",
        pending: true,
      } as FollowResult,
      annotations: {
        [Annotation.rollout]:
          "failed: pod web-1 Pending for 1m30s: FailedScheduling (fargate-scheduler): Your AWS account has reached the limit",
      },
      events: ["PendingOnFargate"],
      problems: 1,
      summaries: 0,
    },
    {
      what: "a move to on-demand nodes that became healthy",
      stored: movingToOnDemand,
      result: healthy,
      annotations: { [Annotation.rollout]: "healthy", [Annotation.compute]: "on-demand" },
      events: ["MigratedToOnDemand"],
      problems: 0,
      summaries: 0,
    },
    {
      what: "a move to on-demand nodes that failed",
      stored: movingToOnDemand,
      result: unhealthy,
      annotations: { [Annotation.rollout]: "failed: pod web-1 is not Ready" },
      events: ["MigrationFailed"],
      problems: 1,
      summaries: 0,
    },
    {
      what: "a failed recovery from on-demand nodes: rolled back to on-demand, never to Fargate",
      stored: recoveringFromOnDemand,
      result: unhealthy,
      follow: recoveryFails(healthy),
      annotations: {
        [Annotation.compute]: "on-demand",
        [Annotation.reason]: "rollback",
        [Annotation.failedRecoveryAttempts]: "1",
      },
      absent: [Annotation.recoveringFrom],
      label: "on-demand",
      events: ["RecoveryRolledBack"],
      problems: 1,
      summaries: 0,
    },
    {
      what: "a recovery from on-demand nodes that became healthy",
      stored: recoveringFromOnDemand,
      result: healthy,
      annotations: { [Annotation.rollout]: "healthy", [Annotation.compute]: "spot" },
      absent: [Annotation.recoveringFrom],
      events: ["RecoveredToSpot"],
      problems: 0,
      summaries: 1,
    },
    {
      what: "a move to Fargate whose compute changed again meanwhile",
      stored: movingToFargate,
      result: { ok: false, why: "compute changed to spot", superseded: true } as FollowResult,
      annotations: { [Annotation.rollout]: "progressing" },
      events: [],
      problems: 0,
      summaries: 0,
    },
    {
      what: "a recovery that became healthy",
      stored: recovering,
      result: healthy,
      annotations: { [Annotation.rollout]: "healthy", [Annotation.compute]: "spot" },
      absent: [Annotation.failedRecoveryAttempts],
      events: ["RecoveredToSpot"],
      problems: 0,
      summaries: 1,
    },
    {
      what: "a recovery that failed: rolled back, the move's time and the label recorded by the watcher",
      stored: recovering,
      result: unhealthy,
      follow: recoveryFails(healthy),
      annotations: {
        [Annotation.compute]: "fargate",
        [Annotation.reason]: "rollback",
        [Annotation.rollout]: "failed: pod web-1 is not Ready",
        [Annotation.failedRecoveryAttempts]: "2",
        [Annotation.changedAt]: "2026-11-30T10:48:00Z",
        [Annotation.changedBy]: USER,
        [Annotation.lastRecoveryAt]: attemptStart,
      },
      label: "fargate",
      events: ["RecoveryRolledBack"],
      problems: 1,
      summaries: 0,
    },
    {
      what: "a recovery that failed and whose rollback failed too: told apart, in the annotation, an Event and an alert",
      stored: recovering,
      result: unhealthy,
      follow: recoveryFails({ ok: false, why: "pod web-2 is not Ready" }),
      annotations: {
        [Annotation.compute]: "fargate",
        [Annotation.reason]: "rollback",
        [Annotation.rollout]: "failed: rollback to Fargate failed: pod web-2 is not Ready",
        [Annotation.failedRecoveryAttempts]: "2",
      },
      label: "fargate",
      events: ["RecoveryRolledBack", "MigrationFailed"],
      problems: 2,
      summaries: 0,
    },
  ])("$what", async ({ stored, result, follow, annotations, absent, label, events, problems, summaries }) => {
    const { deployments, followUps, recorder, alerter } = setup(follow ?? result);
    const verdict = await followUps.follow(deployments.put(stored));
    expect(verdict.result).toEqual(result);
    expect(deployments.annotations("web")).toMatchObject(annotations);
    for (const key of absent ?? []) expect(deployments.annotations("web")).not.toHaveProperty([key]);
    if (label) expect(deployments.get("web").metadata?.labels?.[COMPUTE_LABEL]).toBe(label);
    expect(recorder.events.map((e) => e.reason)).toEqual(events);
    expect(alerter.problems).toHaveLength(problems);
    expect(alerter.summaries).toHaveLength(summaries);
  });

  it("of a recovery an interruption overtook counts as failed; the interruption's reason stands", async () => {
    const { deployments, followUps, recorder } = setup(async () => {
      const moved = deployments.get("web");
      Object.assign(moved.metadata!.annotations!, {
        [Annotation.compute]: "fargate",
        [Annotation.reason]: "spot-interruption",
      });
      deployments.put(moved);
      return { ok: false, why: "compute changed to fargate", superseded: true };
    });
    await followUps.follow(deployments.put(recovering));
    expect(deployments.annotations("web")).toMatchObject({
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "spot-interruption",
      [Annotation.failedRecoveryAttempts]: "2",
    });
    expect(recorder.events.map((e) => e.reason)).toEqual(["RecoveryRolledBack"]);
  });

  it("is decided again on the stored version after a conflict, and written once", async () => {
    const { deployments, followUps } = setup(unhealthy);
    const d = deployments.put(recovering);
    // an interruption moves it to Fargate between the follow-up's end and its write
    deployments.interfere("shop/web", (current) => {
      Object.assign(current.metadata!.annotations!, {
        [Annotation.compute]: "fargate",
        [Annotation.reason]: "spot-interruption",
      });
    });
    await followUps.follow(d);
    expect(deployments.writes).toHaveLength(1);
    expect(deployments.annotations("web")).toMatchObject({
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "spot-interruption",
      [Annotation.failedRecoveryAttempts]: "2",
    });
  });

  it("is retried through transient failures of the apiserver", async () => {
    const { deployments, followUps } = setup(healthy);
    deployments.failNext("patch", unavailable()).failNext("patch", unreachable());
    await followUps.follow(deployments.put(movingToFargate));
    expect(deployments.annotations("web")[Annotation.rollout]).toBe("healthy");
  });

  it("that cannot be written leaves the move in progress, for whoever follows it next", async () => {
    const { deployments, followUps, recorder } = setup(healthy);
    for (let i = 0; i < 5; i++) deployments.failNext("patch", unreachable());
    await followUps.follow(deployments.put(movingToFargate));
    expect(deployments.annotations("web")[Annotation.rollout]).toBe("progressing");
    expect(recorder.events).toEqual([]);

    const picked = followUps.resume(await deployments.list());
    expect(picked).toHaveLength(1);
    await Promise.all(picked);
    expect(deployments.annotations("web")[Annotation.rollout]).toBe("healthy");
  });

  it("is not written when the leader's term ends first", async () => {
    const { deployments, followUps, term, recorder } = setup(
      (_ref, _target, _timeout, { signal }) =>
        new Promise((resolve) =>
          signal?.addEventListener("abort", () => resolve({ ok: false, why: "stopped" })),
        ),
    );
    const following = followUps.follow(deployments.put(movingToFargate));
    term.abort();
    expect((await following).result).toBeUndefined();
    expect(deployments.writes).toEqual([]);
    expect(recorder.events).toEqual([]);
  });

  // The backoff counts from the start of the failed attempt (last-recovery-at) and the cooldown from the
  // rollback (changed-at): the message must say what the recovery loop and `status` will compute.
  it("of a failed recovery tells when the next attempt really starts, as status shows it", async () => {
    const { deployments, followUps, recorder, alerter } = setup(unhealthy);
    await followUps.follow(deployments.put(recovering));
    const next = "in 45m (at 2026-11-30T11:33:00Z)";
    expect(recorder.events[0]?.note).toContain(`next attempt ${next} at the earliest`);
    expect(alerter.problems[0]?.details?.["next attempt"]).toBe(next);
    const [row] = statusRows([deployments.get("web")], config, now.getTime());
    expect(row?.nextRecovery).toBe(next);
  });
});

describe("follow-ups", () => {
  it("follow each Deployment once, however often they are asked to", async () => {
    let calls = 0;
    const { deployments, followUps } = setup(async () => (calls++, healthy));
    const d = deployments.put(movingToFargate);
    await Promise.all([followUps.follow(d), followUps.follow(d), ...followUps.resume([d])]);
    expect(calls).toBe(1);
  });

  it("does not resume a move from a listing taken before its verdict was written", async () => {
    let calls = 0;
    const { deployments, followUps, alerter } = setup(async (_ref, target) =>
      target === "spot" ? (calls++, unhealthy) : healthy,
    );
    const listed = deployments.put(recovering);
    await followUps.follow(listed); // rolled back: compute=fargate, failed-recovery-attempts=2
    const stored = await deployments.read({ namespace: "shop", name: "web" });
    expect(stored.metadata!.annotations![Annotation.failedRecoveryAttempts]).toBe("2");

    const [resumed] = followUps.resume([listed]); // the stale copy still says progressing
    expect(await resumed).toEqual({ ref: { namespace: "shop", name: "web" }, target: "spot" });
    expect(calls).toBe(1);
    const after = await deployments.read({ namespace: "shop", name: "web" });
    expect(after.metadata!.annotations![Annotation.failedRecoveryAttempts]).toBe("2");
    expect(alerter.problems).toHaveLength(1);
  });

  it("resume only moves left in progress", async () => {
    const { deployments, followUps } = setup(healthy);
    const done = deployments.put({
      ...movingToFargate,
      metadata: { ...movingToFargate.metadata, name: "done" },
    });
    done.metadata!.annotations![Annotation.rollout] = "healthy";
    expect(followUps.resume([done])).toEqual([]);
  });
});

describe("a move off spot against its interruption's clock", () => {
  const clocked = (deadline: string) =>
    web({
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "spot-interruption",
      [Annotation.changedAt]: "2026-11-30T10:47:01Z",
      [Annotation.interruptedAt]: "2026-11-30T10:47:00Z",
      [Annotation.deadline]: deadline,
    });

  it("is measured from the event to the healthy verdict, met before the deadline, in the Event and summary", async () => {
    const { deployments, followUps, recorder, metrics, alerter, released } = setup(healthy);
    const verdict = followUps.follow(deployments.put(clocked("2026-11-30T10:49:00Z")));
    await summarizeMigrations(alerter, [verdict], "node-1");
    expect((await verdict).timing).toEqual({ sinceEvent: 60, beforeDeadline: 60 });
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'spot_orchestrator_move_ready_seconds_bucket{le="60",compute="fargate",reason="spot-interruption"} 1',
    );
    expect(text).toContain(
      'spot_orchestrator_move_deadline_total{compute="fargate",reason="spot-interruption",result="met"} 1',
    );
    expect(recorder.events[0]?.note).toBe(
      "Healthy on Fargate after 42s; every replica Ready 60s after the event, 60s before the node's deadline",
    );
    expect(alerter.summaries[0]).toMatchObject({
      ok: true,
      title: "Moved 1 Deployment(s) off node-1 to Fargate",
    });
    expect(released).toEqual(["shop/web verdict"]);
  });

  it("counts a move healthy after the deadline as missed, and the summary says so", async () => {
    const { deployments, followUps, metrics, alerter } = setup(healthy);
    const verdict = followUps.follow(deployments.put(clocked("2026-11-30T10:47:30Z")));
    await summarizeMigrations(alerter, [verdict], "node-1");
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'spot_orchestrator_move_deadline_total{compute="fargate",reason="spot-interruption",result="missed"} 1',
    );
    expect(alerter.summaries[0]).toMatchObject({
      ok: false,
      title: "Moved 1 Deployment(s) off node-1 to Fargate; 1 Ready after the node's deadline",
      lines: [
        "shop/web: healthy on Fargate after 42s; every replica Ready 60s after the event, 30s after the node's deadline",
      ],
    });
  });

  it("releases the drain guard with a failed verdict too, and not when the leader's term ends first", async () => {
    const failed = setup(unhealthy);
    await failed.followUps.follow(failed.deployments.put(clocked("2026-11-30T10:49:00Z")));
    expect(failed.released).toEqual(["shop/web verdict"]);
    const stopped = setup(async () => {
      stopped.term.abort();
      return healthy;
    });
    await stopped.followUps.follow(stopped.deployments.put(clocked("2026-11-30T10:49:00Z")));
    expect(stopped.released).toEqual([]);
  });
});

describe("a move whose verdict said not done in time", () => {
  const timedOut: FollowResult = {
    ok: false,
    why: "not done after 300s (rollout: 3 of 8 new pods Ready)",
    timedOut: true,
  };

  it("is followed for the grace, and once healthy its rollout says so, with an Event and an alert", async () => {
    const calls: number[] = [];
    const { deployments, followUps, recorder, alerter, metrics } = setup(async (_ref, _target, timeoutMs) => {
      calls.push(timeoutMs);
      return calls.length === 1 ? timedOut : { ok: true, seconds: 41 };
    });
    const verdict = await followUps.follow(deployments.put(movingToFargate));
    expect(verdict.result).toEqual(timedOut); // the verdict is not held up by the grace
    await followUps.idle();
    expect(calls).toEqual([config.migration.rolloutTimeout, config.migration.lateHealthyGrace]);
    expect(deployments.annotations("web")[Annotation.rollout]).toBe("healthy");
    expect(recorder.events.map((e) => [e.reason, e.note])).toEqual([
      ["MigrationFailed", `Move to Fargate failed: ${timedOut.why}`],
      ["MigratedToFargate", `Healthy on Fargate after all, 41s after its verdict (failed: ${timedOut.why})`],
    ]);
    expect(alerter.summaries.map((s) => s.title)).toEqual(["shop/web healthy on Fargate after all"]);
    expect(await metrics.registry.getSingleMetricAsString("spot_orchestrator_late_healthy_total")).toContain(
      'spot_orchestrator_late_healthy_total{compute="fargate"} 1',
    );
  });

  it("is left as it is when the Deployment changed since its verdict, or the rollout does not finish", async () => {
    const moved = setup(async (_ref, _target, _timeout, options) => {
      const current = await moved.deployments.read({ namespace: "shop", name: "web" });
      if (current.metadata?.annotations?.[Annotation.rollout] === "progressing") return timedOut;
      // a person moved it back to spot meanwhile: the late follow-up stops
      moved.deployments.put(web({ [Annotation.compute]: "spot", [Annotation.reason]: "manual" }));
      const stopped = options.abortIf?.(await moved.deployments.read({ namespace: "shop", name: "web" }));
      return { ok: false, why: stopped ?? "?", superseded: true };
    });
    await moved.followUps.follow(moved.deployments.put(movingToFargate));
    await moved.followUps.idle();
    expect(moved.deployments.annotations("web")[Annotation.compute]).toBe("spot");
    expect(moved.recorder.events.map((e) => e.reason)).toEqual(["MigrationFailed"]);

    const never = setup(timedOut);
    await never.followUps.follow(never.deployments.put(movingToFargate));
    await never.followUps.idle();
    expect(never.deployments.annotations("web")[Annotation.rollout]).toBe(`failed: ${timedOut.why}`);
  });
});
