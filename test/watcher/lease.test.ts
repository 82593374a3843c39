// Leader election between real candidates over a real Lease, with controller-runtime's timings.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CoordinationV1Api, V1MicroTime } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { testKubeConfig, testKubeconfigPath } from "../cluster/kube.ts";
import { useNamespace } from "../cluster/namespace.ts";
import { waitFor } from "../cluster/wait.ts";
import { LeaderElector } from "../../watcher/leaderElection.ts";
import { quietLog, testKube } from "./harness.ts";

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

/** A candidate in its own process; resolves once it leads. */
async function leaderProcess(lease: string, identity: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [script, testKubeconfigPath(), ns.name, lease, identity], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(`${identity} to lead`, () => output.includes("leading"), { timeoutMs: 30_000 });
  return child;
}

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
