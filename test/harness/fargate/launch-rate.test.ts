import { CoreV1Api, Watch, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testKubeConfig } from "../../support/testCluster.ts";
import { useNamespace } from "../../support/testNamespace.ts";
import { waitFor } from "../../../harness/cluster/wait.ts";
import {
  dueInOrder,
  launchAtAnnotation,
  launchGate,
  LaunchSchedule,
  type WaitingPod,
} from "../../../harness/fargate/launch-rate.ts";
import { fargateProfiles } from "../../../harness/fargate/profile-store.ts";

describe("LaunchSchedule", () => {
  it("launches the burst at once, then one pod per 1/rate s, in the order the tokens were taken", () => {
    let now = 1_000_000;
    const schedule = new LaunchSchedule({ perSecond: 4, burst: 4 }, () => now);
    const account = { name: "any" };
    const times = Array.from({ length: 12 }, () => schedule.next(account));
    expect(times.slice(0, 4)).toEqual([undefined, undefined, undefined, undefined]);
    expect(times.slice(4)).toEqual([250, 500, 750, 1_000, 1_250, 1_500, 1_750, 2_000].map((ms) => now + ms));
    now += 10_000; // the bucket refills, up to its burst
    expect(Array.from({ length: 5 }, () => schedule.next(account))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      now + 250,
    ]);
  });

  it("gives a profile with a rate of its own a bucket of its own", () => {
    const now = 0;
    const schedule = new LaunchSchedule({ perSecond: 1, burst: 1 }, () => now);
    expect(schedule.next({ name: "a" })).toBeUndefined();
    expect(schedule.next({ name: "b" })).toBe(1_000);
    const own = { name: "own", launchRate: { perSecond: 2, burst: 2 } };
    expect([schedule.next(own), schedule.next(own), schedule.next(own)]).toEqual([undefined, undefined, 500]);
  });
});

describe("dueInOrder", () => {
  const waiting = (name: string, launchAt: number, heldBy = "other"): WaitingPod => ({
    namespace: "ns",
    name,
    launchAt,
    heldBy,
  });

  it("lifts due gates oldest first, and all of a closing emulator's", () => {
    const pods = [waiting("c", 300), waiting("a", 100), waiting("later", 900), waiting("b", 200, "me")];
    expect(dueInOrder(pods, 300).map((p) => p.name)).toEqual(["a", "b", "c"]);
    expect(dueInOrder(pods, 150).map((p) => p.name)).toEqual(["a"]);
    expect(dueInOrder(pods, 0, "me").map((p) => p.name)).toEqual(["b"]);
  });
});

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const ns = useNamespace("launch");
const profileName = `launch-test-${process.pid}`;
const labels = { "compute-type": "fargate-launch" };
const rate = { perSecond: 4, burst: 4 };

describe("the account's launch rate", () => {
  beforeAll(async () => {
    await fargateProfiles(kc).add({
      name: profileName,
      selectors: [{ namespace: ns.name, labels }],
      launchRate: rate,
    });
  });

  afterAll(async () => {
    await fargateProfiles(kc).remove(profileName);
  });

  it("holds a burst over the rate unscheduled and launches it in order, at the rate", async () => {
    // when each pod was first seen free to schedule (its gate lifted, or never gated) and bound
    const launched = new Map<string, number>();
    const bound = new Map<string, number>();
    const watching = await new Watch(kc).watch(
      `/api/v1/namespaces/${ns.name}/pods`,
      {},
      (_type: string, pod: V1Pod) => {
        const name = pod.metadata?.name ?? "";
        const held = pod.spec?.schedulingGates?.some((g) => g.name === launchGate) ?? false;
        if (!held && !launched.has(name)) launched.set(name, Date.now());
        if (pod.spec?.nodeName && !bound.has(name)) bound.set(name, Date.now());
      },
      () => undefined,
    );
    try {
      const names = Array.from({ length: 12 }, (_, i) => `burst-${String(i + 1).padStart(2, "0")}`);
      const firstCreated = Date.now();
      const created: V1Pod[] = [];
      for (const name of names) {
        const body: V1Pod = {
          metadata: { name, labels },
          spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
        };
        created.push(await core.createNamespacedPod({ namespace: ns.name, body }));
      }
      const gated = created.map(
        (pod) => pod.spec?.schedulingGates?.some((g) => g.name === launchGate) ?? false,
      );
      // the burst goes at once; tokens that come back while the pods are created let a few more go
      const firstHeld = gated.indexOf(true);
      expect(firstHeld).toBeGreaterThanOrEqual(rate.burst);
      expect(gated.slice(firstHeld)).toEqual(Array(names.length - firstHeld).fill(true));

      await waitFor("all 12 bound", () => bound.size === names.length, { timeoutMs: 20_000 });
      // the burst goes at once, the held pods one by one in the order they came (binding is the scheduler's:
      // two pods freed a moment apart may be bound either way round)
      const order = [...launched.entries()].sort((a, b) => a[1] - b[1]).map(([name]) => name);
      expect(new Set(order.slice(0, firstHeld))).toEqual(new Set(names.slice(0, firstHeld)));
      expect(order.slice(firstHeld)).toEqual(names.slice(firstHeld));
      const lastMs = bound.get(names.at(-1)!)! - firstCreated;
      const floorMs = ((names.length - rate.burst) / rate.perSecond) * 1_000;
      expect(lastMs).toBeGreaterThanOrEqual(floorMs);
      expect(lastMs).toBeLessThanOrEqual(floorMs + 3_000);

      const last = await core.readNamespacedPod({ namespace: ns.name, name: names.at(-1)! });
      expect(last.spec?.schedulingGates ?? []).toEqual([]);
      expect(last.metadata?.labels?.[launchGate]).toBeUndefined();
      expect(last.metadata?.annotations?.[launchAtAnnotation]).toBeUndefined();
    } finally {
      watching.abort();
    }
  });
});
