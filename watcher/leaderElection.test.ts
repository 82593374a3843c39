import { describe, expect, it } from "vitest";
import type { V1Lease } from "@kubernetes/client-node";
import { canAcquire, claimedSpec, leaseExpiry } from "./leaderElection.ts";

const t0 = Date.parse("2025-01-01T00:00:00Z");

// as read back from the apiserver: MicroTime strings
function lease(holder: string | undefined, renewedAt: number, seconds = 15, transitions = 2): V1Lease {
  const renewTime = new Date(renewedAt).toISOString().replace("Z", "123Z");
  return {
    metadata: { name: "l", resourceVersion: "7" },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: seconds,
      renewTime: renewTime as unknown as Date,
      acquireTime: "2024-12-31T23:00:00.000000Z" as unknown as Date,
      leaseTransitions: transitions,
    },
  };
}

describe("leaseExpiry", () => {
  it("is the last renewal plus the duration", () => {
    expect(leaseExpiry(lease("a", t0))).toBe(t0 + 15_000);
    expect(leaseExpiry(lease("a", t0, 1))).toBe(t0 + 1_000);
  });
  it("is undefined for a released or incomplete lease", () => {
    expect(leaseExpiry(lease(undefined, t0))).toBeUndefined();
    expect(leaseExpiry(lease("", t0))).toBeUndefined();
    expect(leaseExpiry({ spec: { holderIdentity: "a" } })).toBeUndefined();
  });
});

describe("canAcquire", () => {
  it.each([
    ["its own lease", lease("me", t0), t0 + 1_000, true],
    ["another's live lease", lease("other", t0), t0 + 14_999, false],
    ["another's lease at expiry", lease("other", t0), t0 + 15_000, true],
    ["another's expired lease", lease("other", t0), t0 + 60_000, true],
    ["a released lease", lease(undefined, t0, 1), t0, true],
    ["a lease released with duration 1s", lease("other", t0, 1), t0 + 1_000, true],
  ])("%s: %s", (_, l, now, expected) => {
    expect(canAcquire(l, "me", now)).toBe(expected);
  });
});

describe("claimedSpec", () => {
  it("takes over another's lease: new acquire time, one more transition", () => {
    const spec = claimedSpec(lease("other", t0), "me", t0 + 20_000, 15_000)!;
    expect(spec.holderIdentity).toBe("me");
    expect(spec.leaseDurationSeconds).toBe(15);
    expect(new Date(spec.acquireTime!).getTime()).toBe(t0 + 20_000);
    expect(new Date(spec.renewTime!).getTime()).toBe(t0 + 20_000);
    expect(spec.leaseTransitions).toBe(3);
  });
  it("renews its own lease: acquire time and transitions kept", () => {
    const spec = claimedSpec(lease("me", t0), "me", t0 + 2_000, 15_000)!;
    expect(new Date(spec.acquireTime!).toISOString()).toBe("2024-12-31T23:00:00.000Z");
    expect(new Date(spec.renewTime!).getTime()).toBe(t0 + 2_000);
    expect(spec.leaseTransitions).toBe(2);
  });
  it("creates a lease with no transitions, serialised as MicroTime", () => {
    const spec = claimedSpec(undefined, "me", t0, 15_000)!;
    expect(spec.leaseTransitions).toBe(0);
    expect(JSON.parse(JSON.stringify(spec)).renewTime).toBe("2025-01-01T00:00:00.000000Z");
  });
});
