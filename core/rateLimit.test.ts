import { describe, expect, it, vi } from "vitest";
import { TokenBucket } from "./rateLimit.ts";

describe("TokenBucket", () => {
  it("gives `burst` tokens at once, then `qps` a second", () => {
    let now = 0;
    const bucket = new TokenBucket(2, 3, () => now);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    expect(bucket.reserve()).toBe(500); // the 4th waits for the next token: 1 / 2 qps
    expect(bucket.reserve()).toBe(1_000);
    now = 1_000; // two tokens came back, both already reserved
    expect(bucket.reserve()).toBe(500);
  });

  it("saves no more than `burst` while idle", () => {
    let now = 0;
    const bucket = new TokenBucket(10, 2, () => now);
    now = 60_000;
    expect([bucket.reserve(), bucket.reserve()]).toEqual([0, 0]);
    expect(bucket.reserve()).toBe(100);
  });

  it("take() waits for its token", async () => {
    vi.useFakeTimers();
    try {
      const bucket = new TokenBucket(1, 1, () => 0);
      await bucket.take();
      let taken = false;
      const second = bucket.take().then(() => (taken = true));
      await vi.advanceTimersByTimeAsync(999);
      expect(taken).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await second;
      expect(taken).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
