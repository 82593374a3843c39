import { describe, expect, it } from "vitest";
import { settleWithin } from "./settleWithin.ts";

describe("settleWithin", () => {
  it("is true once everything has settled, rejections included", async () => {
    expect(await settleWithin([Promise.resolve(1), Promise.reject(new Error("no"))], 1_000)).toBe(true);
    expect(await settleWithin([], 0)).toBe(true);
  });

  it("is false when something is still running at the timeout", async () => {
    const never = new Promise(() => undefined);
    expect(await settleWithin([Promise.resolve(), never], 10)).toBe(false);
  });
});
