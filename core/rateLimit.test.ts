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
      const bucket = new TokenBucket(1, 1, () => Date.now());
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

describe("TokenBucket lanes", () => {
  it("serves a lower lane first while tokens are short, each lane in arrival order", async () => {
    vi.useFakeTimers();
    try {
      let now = 0;
      const bucket = new TokenBucket(10, 1, () => now);
      const order: string[] = [];
      await bucket.take(2);
      const takes = [
        bucket.take(2).then(() => order.push("event-1")),
        bucket.take(1).then(() => order.push("guard-1")),
        bucket.take(0).then(() => order.push("flip-1")),
        bucket.take(2).then(() => order.push("event-2")),
        bucket.take(0).then(() => order.push("flip-2")),
      ];
      expect(bucket.queued).toBe(5);
      for (let step = 0; step < 5; step++) {
        now += 100;
        await vi.advanceTimersByTimeAsync(100);
      }
      await Promise.all(takes);
      expect(order).toEqual(["flip-1", "flip-2", "guard-1", "event-1", "event-2"]);
      expect(bucket.queued).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("lets a taker through at once while a token is saved and nobody waits", async () => {
    const bucket = new TokenBucket(1, 2, () => 0);
    await bucket.take(1);
    await bucket.take(0);
    expect(bucket.queued).toBe(0);
  });
});
