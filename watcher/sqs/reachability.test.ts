import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { QueueReachability } from "./reachability.ts";

const notThere = Object.assign(new Error("The specified queue does not exist."), {
  name: "QueueDoesNotExist",
  $metadata: { httpStatusCode: 400 },
});

function watched(graceMs = 60_000) {
  const told: string[] = [];
  const reachability = new QueueReachability(graceMs, {
    unreachable: ({ since, error, failures }) =>
      told.push(`unreachable since ${since.toISOString()} after ${failures}: ${error}`),
    reachable: ({ since }) => told.push(`reachable, unreachable since ${since.toISOString()}`),
  });
  return { told, reachability };
}

describe("QueueReachability", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-11-30T12:00:00Z"));
  });
  afterEach(() => vi.useRealTimers());

  it("tells once when receives fail for the whole grace period, and once when one works again", () => {
    const { told, reachability } = watched();
    reachability.failed(notThere);
    vi.advanceTimersByTime(30_000);
    reachability.failed(notThere);
    expect(reachability.state).toMatchObject({ state: "failing" });
    vi.advanceTimersByTime(30_000);
    reachability.failed(notThere);
    vi.advanceTimersByTime(60_000);
    expect(told).toEqual([
      "unreachable since 2026-11-30T12:00:00.000Z after 2: QueueDoesNotExist: The specified queue does not exist. (HTTP 400)",
    ]);
    expect(reachability.state).toEqual({
      state: "unreachable",
      since: new Date("2026-11-30T12:00:00Z"),
      error: "QueueDoesNotExist: The specified queue does not exist. (HTTP 400)",
    });
    reachability.succeeded();
    reachability.succeeded();
    expect(told.slice(1)).toEqual(["reachable, unreachable since 2026-11-30T12:00:00.000Z"]);
    expect(reachability.state).toEqual({ state: "reachable", since: new Date("2026-11-30T12:02:00Z") });
  });

  it("says nothing of failures that end within the grace period, and starts a new one after", () => {
    const { told, reachability } = watched(10_000);
    expect(reachability.state).toEqual({ state: "unknown" });
    reachability.failed(notThere);
    vi.advanceTimersByTime(9_000);
    reachability.succeeded();
    vi.advanceTimersByTime(60_000);
    expect(told).toEqual([]);
    reachability.failed(new Error("socket hang up"));
    vi.advanceTimersByTime(10_000);
    expect(told).toEqual(["unreachable since 2026-11-30T12:01:09.000Z after 1: socket hang up"]);
  });

  it("keeps the latest error while unreachable, and stops its timer when told to", () => {
    const { told, reachability } = watched(1_000);
    reachability.failed(notThere);
    vi.advanceTimersByTime(1_000);
    reachability.failed(new Error("connect ECONNREFUSED 127.0.0.1:4566"));
    expect(reachability.state).toMatchObject({
      state: "unreachable",
      error: "connect ECONNREFUSED 127.0.0.1:4566",
    });
    const { told: quiet, reachability: stopped } = watched(1_000);
    stopped.failed(notThere);
    stopped.stop();
    vi.advanceTimersByTime(5_000);
    expect(quiet).toEqual([]);
    expect(told).toHaveLength(1);
  });
});
