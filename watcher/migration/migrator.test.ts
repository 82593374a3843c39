import { nextRecoveryOf } from "../recovery/policy.ts";
import type { V1Deployment, V1Node, V1PodSpec } from "@kubernetes/client-node";
import { describe, expect, it, vi } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { loadConfig } from "../../core/config.ts";
import { PermanentError, RetryableError } from "../../core/errors.ts";
import { quietLog as log } from "../../test/support/log.ts";
import {
  FakeDeployments,
  recordingAlerter,
  recordingRecorder,
  unreachable,
} from "../../test/watcher/fakes.ts";
import type { NodeLookup } from "../cluster/nodeIndex.ts";
import type { GuardOutcome } from "../moves/drainGuard.ts";
import { FollowUps } from "../moves/followUp.ts";
import { createWatcherMetrics } from "../metrics.ts";
import type { InterruptionEvent } from "../sqs/interruptionEvent.ts";
import { MovesFailed, Migrator } from "./migrator.ts";

const config = loadConfig({ env: {} });
const NODE = "ip-10-0-1-7.eu-west-1.compute.internal";
const event: InterruptionEvent = {
  id: "e-1",
  kind: "spot-interruption",
  detailType: "EC2 Spot Instance Interruption Warning",
  instanceId: "i-0123456789abcdef0",
  region: "eu-west-1",
  account: "123456789012",
  time: new Date(),
  deadline: new Date(Date.now() + 120_000),
};

function setup(
  options: {
    config?: typeof config;
    classPriority?: () => Promise<(name: string | undefined) => number>;
    affectedBy?: (node: string) => Promise<V1Deployment[]>;
    guards?: { guard: (d: V1Deployment, node: string, deadline: Date) => Promise<GuardOutcome> };
    deployments?: FakeDeployments;
  } = {},
) {
  const deployments = options.deployments ?? new FakeDeployments();
  const recorder = recordingRecorder();
  const alerter = recordingAlerter();
  const term = new AbortController();
  const common = {
    deployments,
    recorder,
    alerter,
    metrics: createWatcherMetrics(),
    config: options.config ?? config,
    log,
    signal: term.signal,
  };
  const followUps = new FollowUps({
    ...common,
    followRollout: async () => ({ ok: true, seconds: 9 }),
    nextRecovery: nextRecoveryOf(common.config.recovery),
  });
  const node: V1Node = { metadata: { name: NODE } };
  const nodes: NodeLookup = {
    all: () => [node],
    byName: () => node,
    byInstanceId: (id) =>
      id === event.instanceId
        ? node
        : id.startsWith("i-0")
          ? { metadata: { name: `node-${id}` } }
          : undefined,
    synced: Promise.resolve(),
  };
  const migrator = new Migrator({
    ...common,
    followUps,
    nodes,
    affectedBy: options.affectedBy ?? (async () => deployments.list()),
    classPriority: options.classPriority ?? (async () => () => 0),
    guards: options.guards,
  });
  const handle = () => migrator.handle(event, { log, receivedAt: Date.now() });
  return { deployments, migrator, followUps, alerter, recorder, metrics: common.metrics, handle };
}

const web: V1Deployment = {
  metadata: { name: "web", namespace: "shop", annotations: { [Annotation.enabled]: "true" } },
  spec: { selector: {}, template: { spec: { containers: [{ name: "app" }] } } },
};

describe("a flip", () => {
  it.each([
    {
      what: "an unrelated change in between: decided again on the new version and stored",
      change: (d: V1Deployment) => (d.metadata!.annotations!["team"] = "checkout"),
      writes: 1,
      compute: "fargate",
      reason: "spot-interruption",
    },
    {
      what: "a move to Fargate in between (a person, or the same event again): left alone",
      change: (d: V1Deployment) =>
        Object.assign(d.metadata!.annotations!, {
          [Annotation.compute]: "fargate",
          [Annotation.reason]: "manual",
        }),
      writes: 0,
      compute: "fargate",
      reason: "manual",
    },
  ])("after $what", async ({ change, writes, compute, reason }) => {
    const { deployments, handle, followUps } = setup();
    deployments.put(web);
    deployments.interfere("shop/web", change);
    await handle();
    await followUps.idle();
    expect(deployments.writes.filter((w) => w.patch.annotations?.[Annotation.compute])).toHaveLength(writes);
    expect(deployments.annotations("web")).toMatchObject({
      [Annotation.compute]: compute,
      [Annotation.reason]: reason,
    });
  });

  it("of a Deployment deleted in between is skipped for good, and the event is done", async () => {
    const { deployments, handle, alerter } = setup();
    deployments.put(web);
    deployments.failNext("patch", new PermanentError("not-found", "HTTP 404", { status: 404 }));
    await expect(handle()).resolves.toEqual([]); // no move to follow
    expect(alerter.interruptions[0]?.skipped).toEqual([
      { deployment: { namespace: "shop", name: "web" }, why: "deleted" },
    ]);
  });

  it("that cannot be stored leaves the event to come back", async () => {
    const { deployments, handle } = setup();
    deployments.put(web);
    for (let i = 0; i < 3; i++) deployments.failNext("patch", unreachable());
    const failure = await handle().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(MovesFailed);
    expect(failure).toBeInstanceOf(RetryableError);
    // the Deployments it would have moved, for the report if the event is given up
    expect((failure as MovesFailed).deployments.map((d) => d.metadata?.name)).toEqual(["web"]);
    expect(deployments.annotations("web")[Annotation.compute]).toBeUndefined();
    // the event comes back, and this time the flip is stored
    await handle();
    expect(deployments.annotations("web")[Annotation.compute]).toBe("fargate");
  });
});

/** One 0.25 vCPU pod on Fargate (100m, 64Mi) per replica. */
function app(
  name: string,
  annotations: Record<string, string> = {},
  spec: Partial<V1PodSpec> = {},
): V1Deployment {
  return {
    metadata: { name, namespace: "shop", annotations: { [Annotation.enabled]: "true", ...annotations } },
    spec: {
      replicas: 1,
      selector: {},
      template: {
        spec: {
          containers: [{ name: "app", resources: { requests: { cpu: "100m", memory: "64Mi" } } }],
          ...spec,
        },
      },
    },
  };
}

const budgeted = (env: Record<string, string>) => loadConfig({ env: { FARGATE_MAX_VCPU: "1", ...env } });
const computeOf = (deployments: FakeDeployments, name: string) =>
  deployments.annotations(name)[Annotation.compute];

describe("under a Fargate budget", () => {
  const fleet = () => [
    app("alpha"),
    app("bravo", {}, { priorityClassName: "low" }),
    app("charlie", {}, { priorityClassName: "critical" }),
    app("delta", { [Annotation.priority]: "5" }),
    app("echo", { [Annotation.priority]: "-1" }, { priorityClassName: "critical" }),
    app("foxtrot", { [Annotation.priority]: "10" }),
  ];
  const classes = async () => (name: string | undefined) => ({ critical: 1000, low: 10 })[name ?? ""] ?? 0;

  it("moves what fits in priority order and reports the rest: one alert, Events, the metric", async () => {
    const { deployments, handle, alerter, recorder, metrics, followUps } = setup({
      config: budgeted({}),
      classPriority: classes,
    });
    for (const d of fleet()) deployments.put(d);
    await handle();
    await followUps.idle();
    const moved = ["foxtrot", "delta", "charlie", "bravo"];
    for (const name of moved) expect(computeOf(deployments, name)).toBe("fargate");
    for (const name of ["alpha", "echo"]) expect(computeOf(deployments, name)).toBeUndefined();

    expect(alerter.interruptions).toHaveLength(1);
    const [alert] = alerter.interruptions;
    expect(alert!.deployments.map((d) => d.name).sort()).toEqual([...moved].sort());
    expect(alert!.skipped).toEqual([
      {
        deployment: { namespace: "shop", name: "alpha" },
        why: "over the Fargate budget: needs 0.25 vCPU, 0 of 1 left (fargate.max_vcpu)",
      },
      {
        deployment: { namespace: "shop", name: "echo" },
        why: "over the Fargate budget: needs 0.25 vCPU, 0 of 1 left (fargate.max_vcpu)",
      },
    ]);
    expect(alert!.budget).toBe("1 of 1 vCPU, 4 pods (no limit)");
    const warnings = recorder.events.filter((e) => e.type === "Warning");
    expect(warnings.map((e) => [e.deployment, e.reason])).toEqual([
      ["shop/alpha", "FargateBudgetExceeded"],
      ["shop/echo", "FargateBudgetExceeded"],
    ]);
    expect(warnings[0]!.note).toMatch(
      /^Not moved to Fargate \(over the Fargate budget: .*\); .*left on its node \(fargate.fallback=none\)$/,
    );
    expect((await metrics.fargateBudgetExceeded.get()).values[0]?.value).toBe(2);
    const used = (await metrics.fargateBudgetUsed.get()).values;
    expect(used.map((v) => [v.labels.resource, v.value])).toEqual([
      ["vcpu", 1],
      ["pods", 4],
    ]);
    const limits = (await metrics.fargateBudgetLimit.get()).values;
    expect(limits.map((v) => [v.labels.resource, v.value])).toEqual([["vcpu", 1]]);
  });

  it("counts what is on Fargate already", async () => {
    const { deployments, handle } = setup({ config: budgeted({}) });
    deployments.put({
      ...app("already", { [Annotation.compute]: "fargate" }),
      spec: { ...app("x").spec!, replicas: 3 },
    });
    deployments.put(app("b"));
    deployments.put(app("c"));
    await handle();
    expect(computeOf(deployments, "b")).toBe("fargate");
    expect(computeOf(deployments, "c")).toBeUndefined();
  });

  it("with the fallback on, moves the rest and what cannot run on Fargate to on-demand nodes", async () => {
    const { deployments, handle, alerter, recorder, followUps } = setup({
      config: budgeted({ FARGATE_FALLBACK: "on-demand" }),
      classPriority: classes,
    });
    for (const d of fleet()) deployments.put(d);
    deployments.put(app("node-agent", {}, { hostNetwork: true }));
    await handle();
    await followUps.idle();
    for (const name of ["alpha", "echo", "node-agent"])
      expect(computeOf(deployments, name)).toBe("on-demand");
    expect(deployments.annotations("node-agent")[Annotation.reason]).toBe("spot-interruption");
    const [alert] = alerter.interruptions;
    expect(alert!.skipped).toEqual([]);
    expect(alert!.onDemand!.map((o) => [o.deployment.name, o.why])).toEqual([
      ["alpha", "over the Fargate budget: needs 0.25 vCPU, 0 of 1 left (fargate.max_vcpu)"],
      ["echo", "over the Fargate budget: needs 0.25 vCPU, 0 of 1 left (fargate.max_vcpu)"],
      ["node-agent", "cannot run on Fargate: hostNetwork is not supported on Fargate"],
    ]);
    const agent = recorder.events.filter((e) => e.deployment === "shop/node-agent").map((e) => e.reason);
    expect(agent).toEqual(["FargateIncompatible", "MigratingToOnDemand", "MigratedToOnDemand"]);
  });

  it("shares the budget between interruptions handled at the same time", async () => {
    const byNode: Record<string, string[]> = { a: ["a1", "a2", "a3"], b: ["b1", "b2", "b3"] };
    const nodeOf: Record<string, string> = { "i-aaaaaaaaaaaaaaaaa": "a", "i-bbbbbbbbbbbbbbbbb": "b" };
    const deployments = new FakeDeployments();
    const { migrator } = setupWith(deployments, nodeOf, byNode);
    for (const names of Object.values(byNode)) for (const name of names) deployments.put(app(name));
    await Promise.all(
      Object.keys(nodeOf).map((instanceId) =>
        migrator.handle({ ...event, instanceId }, { log, receivedAt: Date.now() }),
      ),
    );
    const onFargate = Object.values(byNode)
      .flat()
      .filter((name) => computeOf(deployments, name) === "fargate");
    expect(onFargate).toHaveLength(4);
  });

  it("orders by the annotation and name when PriorityClasses cannot be read", async () => {
    const { deployments, handle } = setup({
      config: budgeted({}),
      classPriority: async () => {
        throw new RetryableError("list priorityclasses: HTTP 403", { status: 403 });
      },
    });
    for (const d of fleet()) deployments.put(d);
    await handle();
    const moved = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"].filter(
      (name) => computeOf(deployments, name) === "fargate",
    );
    expect(moved).toEqual(["alpha", "bravo", "delta", "foxtrot"]);
  });
});

/** A migrator whose node index knows several nodes, each with its own Deployments. */
function setupWith(
  deployments: FakeDeployments,
  nodeOf: Record<string, string>,
  byNode: Record<string, string[]>,
) {
  const term = new AbortController();
  const common = {
    deployments,
    recorder: recordingRecorder(),
    alerter: recordingAlerter(),
    metrics: createWatcherMetrics(),
    config: budgeted({}),
    log,
    signal: term.signal,
  };
  const followUps = new FollowUps({
    ...common,
    followRollout: async () => ({ ok: true, seconds: 9 }),
    nextRecovery: nextRecoveryOf(common.config.recovery),
  });
  const nodes: NodeLookup = {
    all: () => [],
    byName: () => undefined,
    byInstanceId: (id) => (nodeOf[id] ? { metadata: { name: nodeOf[id] } } : undefined),
    synced: Promise.resolve(),
  };
  const migrator = new Migrator({
    ...common,
    followUps,
    nodes,
    affectedBy: async (node) =>
      (await deployments.list()).filter((d) => byNode[node]!.includes(d.metadata!.name!)),
    classPriority: async () => () => 0,
  });
  return { migrator };
}

describe("an interruption's moves and the node's deadline", () => {
  it("guard each flipped Deployment until the deadline, and tell of a user's budget governing instead", async () => {
    const guarded: string[] = [];
    const { deployments, recorder, handle } = setup({
      guards: {
        guard: async (d, node, deadline) => {
          const compute = d.metadata?.annotations?.[Annotation.compute];
          guarded.push(`${d.metadata?.name} ${compute} ${node} ${deadline.toISOString()}`);
          return d.metadata?.name === "api"
            ? {
                guarded: false,
                why: "user-pdb",
                detail:
                  "its pods are covered by PodDisruptionBudget shop/api-pdb, which governs their evictions",
              }
            : { guarded: true, until: deadline, name: "x" };
        },
      },
    });
    deployments.put(structuredClone(web));
    deployments.put({ ...structuredClone(web), metadata: { ...structuredClone(web.metadata), name: "api" } });
    await handle();
    expect(guarded.sort()).toEqual([
      `api fargate ${NODE} ${event.deadline!.toISOString()}`,
      `web fargate ${NODE} ${event.deadline!.toISOString()}`,
    ]);
    expect(recorder.events.filter((e) => e.reason === "DrainGuardSkipped")).toMatchObject([
      {
        deployment: "shop/api",
        note: "No drain guard while it moves: its pods are covered by PodDisruptionBudget shop/api-pdb, which governs their evictions",
      },
    ]);
  });

  it("that cannot be Ready before the deadline less the grace period are named at the start", async () => {
    const slow = loadConfig({ env: { FARGATE_EXPECTED_STARTUP: "100s" } });
    const { deployments, recorder, alerter, handle } = setup({ config: slow });
    deployments.put(structuredClone(web));
    await handle();
    expect(recorder.events.filter((e) => e.reason === "DeadlineAtRisk")).toHaveLength(1);
    expect(alerter.problems).toMatchObject([
      { message: `1 Deployment(s) cannot be Ready on Fargate before node ${NODE} goes` },
    ]);
    expect(alerter.problems[0]?.details?.["shop/web"]).toMatch(
      /^expected Ready on Fargate at .*, 1[01]s after its pods on/,
    );
  });

  it("that fit in the deadline are not", async () => {
    const { deployments, alerter, recorder, handle } = setup();
    deployments.put(structuredClone(web));
    await handle();
    expect(recorder.events.filter((e) => e.reason === "DeadlineAtRisk")).toEqual([]);
    expect(alerter.problems).toEqual([]);
  });
});

describe("moves of several events at once", () => {
  it("start the earliest deadline first, then the highest priority, across events, when writes are the limit", async () => {
    // the first write is held until every event's moves wait for a slot
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    class HeldDeployments extends FakeDeployments {
      override async patch(...args: Parameters<FakeDeployments["patch"]>) {
        if (this.writes.length === 0) await held;
        return super.patch(...args);
      }
    }
    const deployments = new HeldDeployments();
    const app = (name: string, node: string, priority = 0): V1Deployment => ({
      ...structuredClone(web),
      metadata: {
        name,
        namespace: "shop",
        labels: { node },
        annotations: { [Annotation.enabled]: "true", [Annotation.priority]: String(priority) },
      },
    });
    for (const d of [app("a-first", "a"), app("a-low", "a"), app("a-high", "a", 9), app("b", "b")])
      deployments.put(d);
    const { migrator } = setup({
      config: loadConfig({ env: { MIGRATION_CONCURRENCY: "1" } }),
      deployments,
      affectedBy: async (node) =>
        (await deployments.list()).filter((d) => node.endsWith(d.metadata!.labels!["node"]!)),
    });
    const late = {
      ...event,
      id: "e-late",
      instanceId: "i-0aaaaaaaaaaaaaaaa",
      deadline: new Date(Date.now() + 110_000),
    };
    const soon = {
      ...event,
      id: "e-soon",
      instanceId: "i-0bbbbbbbbbbbbbbbb",
      deadline: new Date(Date.now() + 40_000),
    };
    const handled = [late, soon].map((e) => migrator.handle(e, { log, receivedAt: Date.now() }));
    await vi.waitFor(() => expect(migratorQueued(migrator)).toBe(3));
    release();
    await Promise.all(handled);
    // the moves' first writes (their verdicts follow)
    const starts = deployments.writes.filter(
      (w) => w.patch.annotations?.[Annotation.rollout] === "progressing",
    );
    expect(starts.map((w) => w.key)).toEqual(["shop/a-first", "shop/b", "shop/a-high", "shop/a-low"]);
  });
});

/** Moves waiting for a slot (the migrator's start queue). */
function migratorQueued(migrator: Migrator): number {
  return (migrator as unknown as { starts: { queued: number } }).starts.queued;
}

describe("a move that cannot be Ready on Fargate in time, with the fallback to on-demand", () => {
  it("goes to on-demand nodes instead, the highest priority keeping Fargate's first launches", async () => {
    // 20 pods launch at once, then 20 a second: with 80 s of start-up the first 20 are Ready 10 s before
    // they must leave (the deadline less the 30 s grace period); the next 400 launch over 20 s, too late
    const slow = loadConfig({ env: { FARGATE_FALLBACK: "on-demand", FARGATE_EXPECTED_STARTUP: "80s" } });
    const { deployments, recorder, handle } = setup({ config: slow });
    const app = (name: string, replicas: number, priority: number): V1Deployment => ({
      ...structuredClone(web),
      metadata: {
        name,
        namespace: "shop",
        annotations: { [Annotation.enabled]: "true", [Annotation.priority]: String(priority) },
      },
      spec: { ...structuredClone(web.spec!), replicas },
    });
    deployments.put(app("batch", 400, 0));
    deployments.put(app("checkout", 20, 10));
    await handle();
    expect(deployments.annotations("checkout")[Annotation.compute]).toBe("fargate");
    expect(deployments.annotations("batch")[Annotation.compute]).toBe("on-demand");
    const late = recorder.events.find((e) => e.deployment === "shop/batch" && e.reason === "DeadlineAtRisk");
    expect(late?.note).toMatch(
      /^Not moved to Fargate \(not expected Ready on Fargate before its pods must leave /,
    );
  });
});
