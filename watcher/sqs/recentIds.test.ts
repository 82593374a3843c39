import { describe, expect, it } from "vitest";
import { RecentIds } from "./recentIds.ts";

describe("RecentIds", () => {
  it("remembers ids until they expire", () => {
    let now = 0;
    const ids = new RecentIds(10, 1000, () => now);
    ids.add("a");
    now = 999;
    expect(ids.has("a")).toBe(true);
    now = 1000;
    expect(ids.has("a")).toBe(false);
    expect(ids.size).toBe(0);
  });

  it("forgets the oldest ids beyond its size", () => {
    const ids = new RecentIds(3, 60_000, () => 0);
    for (const id of ["a", "b", "c", "d"]) ids.add(id);
    expect(["a", "b", "c", "d"].map((id) => ids.has(id))).toEqual([false, true, true, true]);
    expect(ids.size).toBe(3);
  });

  it("treats adding an id again as the newest", () => {
    const ids = new RecentIds(2, 60_000, () => 0);
    ids.add("a");
    ids.add("b");
    ids.add("a");
    ids.add("c");
    expect([ids.has("a"), ids.has("b"), ids.has("c")]).toEqual([true, false, true]);
  });

  it("drops expired ids when adding", () => {
    let now = 0;
    const ids = new RecentIds(100, 10, () => now);
    for (let i = 0; i < 50; i++) ids.add(`old-${i}`);
    now = 20;
    ids.add("new");
    expect(ids.size).toBe(1);
  });
});
