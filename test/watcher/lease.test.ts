// Leader election between real candidates over a real Lease, with controller-runtime's timings; candidates in
// processes of their own, some on machines whose wall clocks are off, are never two leaders at once.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CoordinationV1Api, V1MicroTime } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { testKubeConfig, testKubeconfigPath } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { LeaderElector } from "../../watcher/lease/leaderElection.ts";
import { testKube } from "../support/watcherParts.ts";
import { quietLog } from "../support/log.ts";

const kc = testKubeConfig();
const coordination = kc.makeApiClient(CoordinationV1Api);
const ns = useNamespace("watcher-lease");
const script = fileURLToPath(new URL("./elector-process.ts", import.meta.url));

interface Candidate {
  elector: LeaderElector;
  leading: boolean;
  starts: number;
  stops: number;
  /** The signal of the current (or last) term. */
  term?: AbortSignal;
  /** Whether the term's signal was already aborted when onStoppedLeading was called. */
  abortedBeforeStop?: boolean;
}

const running: LeaderElector[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.release()));
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

function candidate(
  lease: string,
  identity: string,
  timings: Partial<ConstructorParameters<typeof LeaderElector>[0]> = {},
): Candidate {
  const state: Candidate = { leading: false, starts: 0, stops: 0 } as Candidate;
  state.elector = new LeaderElector({
    kube: testKube(),
    namespace: ns.name,
    name: lease,
    identity,
    log: quietLog,
    onStartedLeading: (signal) => {
      state.leading = true;
      state.starts++;
      state.term = signal;
    },
    onStoppedLeading: () => {
      state.leading = false;
      state.stops++;
      state.abortedBeforeStop = state.term?.aborted;
    },
    ...timings,
  });
  running.push(state.elector);
  void state.elector.run();
  return state;
}

/** A candidate in its own process, on a machine whose wall clock is `skewMs` off; who leads, as it says. */
interface ProcessCandidate {
  identity: string;
  child: ChildProcess;
  leading: boolean;
}

/** Every candidate process of the test; `overlaps` lists each time one said it leads while another did. */
const processes: ProcessCandidate[] = [];
const overlaps: string[] = [];

function startProcess(lease: string, identity: string, skewMs = 0): ProcessCandidate {
  const args = [script, testKubeconfigPath(), ns.name, lease, identity, String(skewMs)];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const candidate: ProcessCandidate = { identity, child, leading: false };
  processes.push(candidate);
  let pending = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      if (line === "leading") {
        const others = processes.filter((p) => p !== candidate && p.leading).map((p) => p.identity);
        if (others.length > 0) overlaps.push(`${identity} leads while ${others.join(", ")} does`);
        candidate.leading = true;
      } else if (line === "stopped") {
        candidate.leading = false;
      }
    }
  });
  child.on("exit", () => (candidate.leading = false));
  return candidate;
}

/** A candidate in its own process; resolves once it leads. */
async function leaderProcess(lease: string, identity: string, skewMs = 0): Promise<ChildProcess> {
  const candidate = startProcess(lease, identity, skewMs);
  await waitFor(`${identity} to lead`, () => candidate.leading, { timeoutMs: 30_000 });
  return candidate.child;
}

afterEach(() => {
  processes.splice(0);
  overlaps.splice(0);
});

const holderOf = async (lease: string) =>
  (await coordination.readNamespacedLease({ namespace: ns.name, name: lease })).spec?.holderIdentity;

describe("leader election over a Lease", () => {
  it("elects one of two candidates and never both", async () => {
    const a = candidate("pair", "a");
    const b = candidate("pair", "b");
    await waitFor("a leader", () => a.leading || b.leading);
    const leader = a.leading ? "a" : "b";
    expect(await holderOf("pair")).toBe(leader);
    expect(a.leading && b.leading).toBe(false);
    const lease = await coordination.readNamespacedLease({ namespace: ns.name, name: "pair" });
    expect(lease.spec?.leaseDurationSeconds).toBe(15);
  });

  it("lets a candidate take over within a lease duration after the leader dies", async () => {
    const first = await leaderProcess("failover", "first");
    expect(await holderOf("failover")).toBe("first");
    const second = candidate("failover", "second");
    first.kill("SIGKILL");
    const killedAt = Date.now();
    await waitFor("second to lead", () => second.leading, { timeoutMs: 25_000 });
    const lease = await coordination.readNamespacedLease({ namespace: ns.name, name: "failover" });
    expect(lease.spec?.holderIdentity).toBe("second");
    expect(lease.spec?.leaseTransitions).toBe(1);
    // it waited for the lease to expire rather than taking it early
    expect(Date.now() - killedAt).toBeGreaterThan(5_000);
  });

  it("hands over at once when the leader releases the lease", async () => {
    const first = candidate("handover", "first");
    await waitFor("first to lead", () => first.leading);
    const second = candidate("handover", "second");
    await first.elector.release();
    expect(first.stops).toBe(1);
    expect(first.abortedBeforeStop).toBe(true);
    // well inside the 15 s the lease would otherwise have run
    await waitFor("second to lead", () => second.leading, { timeoutMs: 8_000 });
    expect(await holderOf("handover")).toBe("second");
  });

  it("stops leading when another candidate holds the lease", async () => {
    const leader = candidate("taken", "leader", {
      leaseDurationMs: 4_000,
      renewDeadlineMs: 3_000,
      retryPeriodMs: 500,
    });
    await waitFor("leader to lead", () => leader.leading);
    const lease = await coordination.readNamespacedLease({ namespace: ns.name, name: "taken" });
    await coordination.replaceNamespacedLease({
      namespace: ns.name,
      name: "taken",
      body: { ...lease, spec: { ...lease.spec, holderIdentity: "intruder", renewTime: new V1MicroTime() } },
    });
    await waitFor("leader to step down", () => leader.stops === 1, { timeoutMs: 10_000 });
    expect(leader.leading).toBe(false);
    // the term's work was told to stop writing before anything else happened
    expect(leader.abortedBeforeStop).toBe(true);
  });
});

describe("leader election between machines whose clocks disagree", () => {
  const SKEW_MS = 30_000;
  /** Long enough for a candidate to try several times (retry period 2 s), short of a lease duration. */
  const WATCH_MS = 8_000;

  /** Over `ms`, the lease stays with `holder` and no other candidate leads. */
  async function holdsFor(lease: string, holder: string, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      expect(await holderOf(lease)).toBe(holder);
      expect(processes.filter((p) => p.leading).map((p) => p.identity)).toEqual([holder]);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  it("a candidate given a clock 30 s ahead leaves alone the live lease of one given a clock 30 s behind", async () => {
    const skewed = (ms: number) => ({ now: () => Date.now() + ms, monotonic: () => performance.now() });
    const behind = candidate("injected", "behind", { clock: skewed(-SKEW_MS) });
    await waitFor("behind to lead", () => behind.leading);
    // by its own wall clock, the lease it reads was renewed a minute ago
    const ahead = candidate("injected", "ahead", { clock: skewed(SKEW_MS) });
    const until = Date.now() + WATCH_MS;
    while (Date.now() < until) {
      expect(await holderOf("injected")).toBe("behind");
      expect(ahead.leading).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(behind.starts).toBe(1);
    expect(behind.stops).toBe(0);
  });

  it("a standby whose clock is 30 s ahead or behind never takes a live leader's lease, and takes a dead one's within a lease duration", async () => {
    const leader = await leaderProcess("skew-standby", "leader");
    const ahead = startProcess("skew-standby", "ahead", SKEW_MS);
    const behind = startProcess("skew-standby", "behind", -SKEW_MS);
    await holdsFor("skew-standby", "leader", WATCH_MS);

    leader.kill("SIGKILL");
    const killedAt = Date.now();
    const next = await waitFor("a standby to lead", () => [ahead, behind].find((c) => c.leading), {
      timeoutMs: 25_000,
      intervalMs: 100,
    });
    const tookMs = Date.now() - killedAt;
    // it waited for the lease to run out, counted from when it last saw the lease change: 15 s after the
    // leader's last renewal, which may have been up to a retry period before it died
    expect(tookMs).toBeGreaterThan(10_000);
    expect(tookMs).toBeLessThan(22_000);
    expect(await holderOf("skew-standby")).toBe(next.identity);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(overlaps).toEqual([]);
    expect([ahead, behind].filter((c) => c.leading)).toHaveLength(1);
  });

  it("a leader whose clock is 30 s behind keeps its lease from a standby whose clock is right", async () => {
    await leaderProcess("skew-leader", "behind", -SKEW_MS);
    startProcess("skew-leader", "right");
    await holdsFor("skew-leader", "behind", WATCH_MS);
    expect(overlaps).toEqual([]);
  });

  it("a leader whose clock is 30 s ahead hands a standby whose clock is right the lease within a lease duration of dying", async () => {
    const leader = await leaderProcess("skew-ahead", "ahead", SKEW_MS);
    const right = startProcess("skew-ahead", "right");
    await holdsFor("skew-ahead", "ahead", 3_000);
    leader.kill("SIGKILL");
    const killedAt = Date.now();
    await waitFor("the standby to lead", () => right.leading, { timeoutMs: 25_000, intervalMs: 100 });
    // its renewals say 30 s from now: a standby trusting them would wait 45 s
    expect(Date.now() - killedAt).toBeLessThan(22_000);
    expect(overlaps).toEqual([]);
  });
});
