import { describe, expect, it } from "vitest";
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { nextAttempt, recoveryBackoff, recoveryState, unrecordedMove } from "./policy.ts";

const MIN = 60_000;
const timing = { cooldown: 45 * MIN, backoffBase: 15 * MIN, maxBackoff: 240 * MIN };

describe("recoveryBackoff", () => {
  it("is the one backoff formula with the recovery settings: 15m, 30m, 1h, 2h, 4h, 4h, ...", () => {
    const waits = [1, 2, 3, 4, 5, 6].map((failures) => recoveryBackoff(failures, timing) / MIN);
    expect(waits).toEqual([15, 30, 60, 120, 240, 240]);
  });
});

function deployment(annotations: Record<string, string>): V1Deployment {
  return {
    metadata: {
      name: "web",
      namespace: "shop",
      annotations: { [Annotation.enabled]: "true", ...annotations },
    },
  };
}

describe("recoveryState", () => {
  const changedAt = "2026-11-25T10:00:00Z";
  const t = Date.parse(changedAt);

  it.each([
    ["on spot", { [Annotation.compute]: "spot" }, "not on fargate or on-demand"],
    [
      "moved to on-demand by a person",
      { [Annotation.compute]: "on-demand", [Annotation.reason]: "manual" },
      "moved to on-demand by a person (reason=manual)",
    ],
    [
      "moved by a person",
      { [Annotation.compute]: "fargate", [Annotation.reason]: "manual" },
      "moved to fargate by a person (reason=manual)",
    ],
    [
      "still moving",
      { [Annotation.compute]: "fargate", [Annotation.rollout]: "progressing" },
      "the move to fargate is still in progress",
    ],
  ])("is not eligible when %s", (_name, annotations, why) => {
    expect(recoveryState(deployment(annotations), timing)).toEqual({ eligible: false, why });
  });

  // A move the webhook did not see (it was down) has no changed-at: read as time 0, the cooldown would
  // be long over and the Deployment would go straight back to spot.
  it.each([
    ["missing", {}],
    ["not a time", { [Annotation.changedAt]: "yesterday" }],
    ["missing after failed attempts", { [Annotation.failedRecoveryAttempts]: "2" }],
  ])("never counts a %s move time as long ago", (_name, annotations) => {
    const d = deployment({
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "spot-interruption",
      ...annotations,
    });
    expect(recoveryState(d, timing)).toEqual({
      eligible: false,
      why: unrecordedMove("fargate"),
      unrecordedMove: true,
    });
  });

  it("waits out the cooldown after the move", () => {
    const d = deployment({
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "spot-interruption",
      [Annotation.changedAt]: changedAt,
    });
    expect(recoveryState(d, timing)).toEqual({ eligible: true, notBefore: t + 45 * MIN, failures: 0 });
  });

  it("waits the longer of cooldown and backoff after failed attempts", () => {
    const d = deployment({
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "rollback",
      [Annotation.changedAt]: new Date(t + 52 * MIN).toISOString(),
      [Annotation.lastRecoveryAt]: new Date(t + 50 * MIN).toISOString(),
      [Annotation.failedRecoveryAttempts]: "3",
    });
    expect(recoveryState(d, timing)).toEqual({
      eligible: true,
      notBefore: t + 50 * MIN + 60 * MIN,
      failures: 3,
    });
  });

  it("counts the backoff from the move when the attempt's start is not recorded", () => {
    const d = deployment({
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "rollback",
      [Annotation.changedAt]: changedAt,
      [Annotation.failedRecoveryAttempts]: "4",
    });
    expect(recoveryState(d, timing)).toMatchObject({ eligible: true, notBefore: t + 120 * MIN });
  });
});

describe("nextAttempt", () => {
  const now = Date.parse("2026-11-30T10:48:00Z");
  it.each([
    [{ eligible: true, notBefore: now + 45 * MIN, failures: 1 }, "in 45m (at 2026-11-30T11:33:00Z)"],
    [{ eligible: true, notBefore: now, failures: 0 }, "due (once spot has room)"],
    [{ eligible: false, why: "not on fargate or on-demand" }, "none (not on fargate or on-demand)"],
  ] as const)("%j → %s", (state, text) => {
    expect(nextAttempt(state, now)).toBe(text);
  });
});
