import { describe, expect, it } from "vitest";
import type { V1Lease } from "@kubernetes/client-node";
import { canAcquire, claimedSpec, LeaseObservation, leaseExpiry } from "./leaderElection.ts";

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

/** A candidate's observation of the leases it read, at monotonic times (ms) of its own. */
function observed(...reads: [V1Lease, number][]): LeaseObservation {
  const observation = new LeaseObservation();
  for (const [l, at] of reads) observation.observe(l.spec, at);
  return observation;
}

describe("LeaseObservation", () => {
  it("counts a holder's lease from when its record was seen to change, whatever times the record carries", () => {
    // renewed by a clock 30 s ahead of this candidate's, or 30 s behind: the same either way
    for (const renewedAt of [t0 + 30_000, t0 - 30_000, t0]) {
      const seen = observed([lease("other", renewedAt), 1_000]);
      expect(seen.holder).toBe("other");
      expect(seen.remainingMs(1_000)).toBe(15_000);
      expect(seen.remainingMs(15_999)).toBe(1);
      expect(seen.remainingMs(16_000)).toBe(0);
    }
  });

  it("starts again with every renewal seen, not with a read of the same record", () => {
    const seen = observed([lease("other", t0), 1_000], [lease("other", t0), 9_000]);
    expect(seen.remainingMs(9_000)).toBe(7_000);
    seen.observe(lease("other", t0 + 2_000).spec, 10_000);
    expect(seen.remainingMs(10_000)).toBe(15_000);
    // a new holder, more transitions, another duration: each a change
    seen.observe(lease("other", t0 + 2_000, 15, 3).spec, 11_000);
    expect(seen.remainingMs(11_000)).toBe(15_000);
    seen.observe(lease("other", t0 + 2_000, 4, 3).spec, 12_000);
    expect(seen.remainingMs(12_000)).toBe(4_000);
  });

  it("reads the same record alike whether its times are strings from the apiserver or Dates", () => {
    const seen = observed([lease("other", t0), 1_000]);
    const asDates = lease("other", t0);
    asDates.spec!.renewTime = new Date(String(asDates.spec!.renewTime));
    asDates.spec!.acquireTime = new Date(String(asDates.spec!.acquireTime));
    seen.observe(asDates.spec, 5_000);
    expect(seen.remainingMs(5_000)).toBe(11_000);
  });

  it("has nothing running for a lease nobody holds", () => {
    expect(observed([lease(undefined, t0, 1), 1_000]).remainingMs(1_000)).toBe(0);
    expect(observed([lease("", t0), 1_000]).holder).toBeUndefined();
    expect(new LeaseObservation().remainingMs(0)).toBe(0);
  });
});

describe("canAcquire", () => {
  it.each([
    ["its own lease", observed([lease("me", t0), 0]), 1_000, true],
    ["another's lease, seen renewed 14.999 s ago", observed([lease("other", t0), 0]), 14_999, false],
    ["another's lease, seen renewed 15 s ago", observed([lease("other", t0), 0]), 15_000, true],
    [
      "another's lease renewed since",
      observed([lease("other", t0), 0], [lease("other", t0 + 2_000), 10_000]),
      20_000,
      false,
    ],
    ["another's lease whose renewTime is long past", observed([lease("other", t0 - 3_600_000), 0]), 1, false],
    [
      "another's lease whose renewTime is far ahead",
      observed([lease("other", t0 + 3_600_000), 0]),
      15_000,
      true,
    ],
    ["a released lease", observed([lease(undefined, t0, 1), 0]), 0, true],
  ])("%s: %s", (_, seen, at, expected) => {
    expect(canAcquire(seen, "me", at)).toBe(expected);
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
