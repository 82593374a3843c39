import { describe, expect, it } from "vitest";
import type { V1Deployment } from "@kubernetes/client-node";
import { Annotation } from "../core/contract.ts";
import { recoveryBackoff, recoveryState } from "./recoveryPolicy.ts";

const MIN = 60_000;
const timing = { cooldown: 45 * MIN, backoffBase: 15 * MIN, maxBackoff: 240 * MIN };

describe("recoveryBackoff", () => {
  it.each([
    [0, 0],
    [1, 15],
    [2, 30],
    [3, 60],
    [4, 120],
    [5, 240],
    [6, 240],
    [1000, 240],
  ])("after %d failures waits %d minutes", (failures, minutes) => {
    expect(recoveryBackoff(failures, timing)).toBe(minutes * MIN);
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
    ["on spot", { [Annotation.compute]: "spot" }, "not on fargate"],
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

  it("waits out the cooldown after the move", () => {
    const d = deployment({
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "spot-interruption",
      [Annotation.changedAt]: changedAt,
    });
    expect(recoveryState(d, timing)).toEqual({ eligible: true, notBefore: t + 45 * MIN, failures: 0 });
  });

  it("waits the longer of cooldown and backoff after failed attempts", () => {
    const lastAttempt = new Date(t + 50 * MIN).toISOString();
    const d = deployment({
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "rollback",
      [Annotation.changedAt]: new Date(t + 52 * MIN).toISOString(),
      [Annotation.lastRecoveryAt]: lastAttempt,
      [Annotation.failedRecoveryAttempts]: "3",
    });
    expect(recoveryState(d, timing)).toEqual({
      eligible: true,
      notBefore: t + 50 * MIN + 60 * MIN,
      failures: 3,
    });
  });
});
