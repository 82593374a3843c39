import { describe, expect, it } from "vitest";
import { backoff } from "./backoff.ts";

describe("backoff", () => {
  it.each([
    [0, 0],
    [1, 15],
    [2, 30],
    [3, 60],
    [4, 120],
    [5, 240],
    [6, 240],
    [1_000, 240],
  ])("after %d failures waits %d", (failures, wait) => {
    expect(backoff(failures, 15, 240)).toBe(wait);
  });

  it("never overflows to Infinity or NaN", () => {
    expect(backoff(Number.MAX_SAFE_INTEGER, 1, Number.MAX_VALUE)).toBe(2 ** 52);
  });
});
