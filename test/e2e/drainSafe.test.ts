// Drainers at t = 1 s: Karpenter, NTH and managed node groups read the same warning and drain the doomed node
// through the Eviction API within a second. With Fargate pods taking 30-40 s to be Ready (the emulator's
// profile), a real `kubectl drain` of the node one second after the warning still takes no opted-in
// Deployment below its replicas: the drain guards hold the evictions until the replacements are Ready, the
// node is drained before its deadline, and no guard is left. A Deployment with its own PodDisruptionBudget is
// governed by that one alone (the Eviction API refuses a pod two budgets cover). A leader killed mid-move
// leaves its guards to the next leader, which deletes them with the verdicts.
import { randomBytes } from "node:crypto";
import {
  CoreV1Api,
  PolicyV1Api,
  type V1Deployment,
  type V1DeploymentStrategy,
  type V1Node,
} from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { GUARD_LABEL } from "../../watcher/moves/drainGuard.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, instanceIdOf, terminateNode } from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import type { CommandResult } from "../../harness/cluster/command.ts";
import { kubectl } from "../gitops/appliers.ts";
import { trackReadyReplicas, type ReadyReplicas } from "./readyReplicas.ts";
import { clients, waitForAvailable } from "../support/deployments.ts";
import { describedEvents } from "../support/events.ts";
import { useStack } from "../support/suiteStack.ts";
import { shapedApp, USUAL_SHAPES } from "../support/workloads.ts";

const kc = testKubeConfig();
const { apps } = clients(kc);
const core = kc.makeApiClient(CoreV1Api);
const policy = kc.makeApiClient(PolicyV1Api);
const ns = useNamespace("e2e-drain-safe");
const NOTICE_MS = 120_000;
const DRAIN_AFTER_MS = 1_000;

const suite = useStack(
  kc,
  ns,
  // recovery is not what this suite is about: the moves stay on Fargate
  { RECOVERY_ENABLED: "false" },
  {},
  { startup: { meanMs: 35_000, jitterMs: 5_000 } },
);

interface Shape {
  replicas: number;
  strategy?: V1DeploymentStrategy;
  /** The user's own PodDisruptionBudget over its pods, `maxUnavailable: 1`. */
  ownBudget?: boolean;
}
const shapes: Record<string, Shape> = { ...USUAL_SHAPES, budgeted: { replicas: 4, ownBudget: true } };
const names = Object.keys(shapes);

function workload(name: string, group: string): V1Deployment {
  return shapedApp(name, shapes[name] ?? { replicas: 4 }, group);
}

const nodeName = (n: V1Node) => n.metadata?.name ?? "";

async function twoSpotNodes(group: string): Promise<V1Node[]> {
  const made = await addSpotNodes(kc, 2, { nodegroup: group, zone: "eu-west-1b", cpu: "8", memory: "32Gi" });
  suite.nodes.push(...made);
  return made;
}

async function guards(): Promise<string[]> {
  const list = await policy.listNamespacedPodDisruptionBudget({
    namespace: ns.name,
    labelSelector: GUARD_LABEL,
  });
  return list.items.map((p) => p.metadata?.name ?? "");
}

/** `kubectl drain` of the node, as Karpenter and NTH drain (evictions, retried while refused). */
function drain(node: string): Promise<CommandResult & { ms: number }> {
  const started = Date.now();
  return kubectl([
    "drain",
    node,
    "--ignore-daemonsets",
    "--delete-emptydir-data",
    "--force",
    "--timeout=150s",
  ]).then((result) => ({ ...result, ms: Date.now() - started }));
}

async function verdictOf(name: string, timeoutMs: number): Promise<number> {
  await waitFor(
    `${name}: healthy on Fargate`,
    async () => {
      const a =
        (await apps.readNamespacedDeployment({ namespace: ns.name, name })).metadata?.annotations ?? {};
      if (a[Annotation.rollout]?.startsWith("failed")) throw new Error(`${name}: ${a[Annotation.rollout]}`);
      return a[Annotation.compute] === "fargate" && a[Annotation.rollout] === "healthy" ? true : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );
  return Date.now();
}

describe("a spot interruption whose node is drained one second after the warning", () => {
  let doomed: V1Node;
  let ready: ReadyReplicas;

  beforeAll(async () => {
    const group = `ds-${randomBytes(3).toString("hex")}`;
    doomed = (await twoSpotNodes(group))[0]!;
    for (const name of names) {
      await apps.createNamespacedDeployment({ namespace: ns.name, body: workload(name, group) });
      if (shapes[name]!.ownBudget) {
        await policy.createNamespacedPodDisruptionBudget({
          namespace: ns.name,
          body: {
            metadata: { name: `${name}-pdb` },
            spec: { maxUnavailable: 1, selector: { matchLabels: { app: name } } },
          },
        });
      }
    }
    for (const name of names) await waitForAvailable(kc, ns.name, name, shapes[name]!.replicas);
    const onDoomed = (
      await core.listNamespacedPod({
        namespace: ns.name,
        fieldSelector: `spec.nodeName=${nodeName(doomed!)}`,
      })
    ).items;
    for (const name of names) expect(onDoomed.some((p) => p.metadata?.labels?.app === name)).toBe(true);
    ready = await trackReadyReplicas(kc, ns.name);
  }, 240_000);

  it("keeps every Deployment at its replicas until its Fargate pods are Ready, drains in time and leaves no guard", async () => {
    const t0 = Date.now();
    await suite.stack.send(
      buildEventBridgeEvent({
        kind: "spot-interruption",
        instanceId: instanceIdOf(doomed),
        region: "eu-west-1",
      }),
    );
    await new Promise((r) => setTimeout(r, DRAIN_AFTER_MS));
    const drained = drain(nodeName(doomed));

    const healthyAt = await Promise.all(names.map((name) => verdictOf(name, NOTICE_MS - (Date.now() - t0))));
    const drainResult = await drained;
    const death = Date.now();
    expect(drainResult.code, drainResult.stderr).toBe(0);
    expect(drainResult.ms + DRAIN_AFTER_MS).toBeLessThan(NOTICE_MS);
    expect(Math.max(...healthyAt) - t0).toBeLessThan(NOTICE_MS);
    for (const name of names) {
      const { replicas, ownBudget } = shapes[name]!;
      const fewest = ready.fewest(name, t0, death);
      if (ownBudget) {
        // the user's own budget allows one pod down at a time, and governs alone
        expect(Math.min(fewest.watched, fewest.sampled), `${name}: fewest Ready`).toBeGreaterThanOrEqual(
          replicas - 1,
        );
      } else {
        expect({ name, ...fewest }).toEqual({ name, watched: replicas, sampled: replicas });
        expect(ready.belowSince(name, replicas, t0, death)).toBeUndefined();
      }
    }
    await waitFor("no drain guard left", async () => ((await guards()).length === 0 ? true : undefined), {
      timeoutMs: 10_000,
    });
    const budgeted = await apps.readNamespacedDeployment({ namespace: ns.name, name: "budgeted" });
    const events = await describedEvents(kc, {
      kind: "Deployment",
      namespace: ns.name,
      name: "budgeted",
      uid: budgeted.metadata!.uid!,
    });
    expect(events.find((e) => e.reason === "DrainGuardSkipped")?.message).toBe(
      `No drain guard while it moves: its pods are covered by PodDisruptionBudget ${ns.name}/budgeted-pdb, which governs their evictions`,
    );
    const metrics = await suite.stack.watcherMetrics();
    expect(metrics).toMatch(/spot_orchestrator_drain_guards_total\{result="created"\} 5\b/);
    expect(metrics).toMatch(/spot_orchestrator_drain_guards_total\{result="released-verdict"\} 5\b/);
    expect(metrics).toMatch(/spot_orchestrator_drain_guards_total\{result="user-pdb"\} 1\b/);
    expect(metrics).toMatch(
      /spot_orchestrator_move_deadline_total\{compute="fargate",reason="spot-interruption",result="met"\} 6\b/,
    );
    expect(metrics).toMatch(
      /spot_orchestrator_move_ready_seconds_count\{compute="fargate",reason="spot-interruption"\} 6\b/,
    );
    await terminateNode(kc, nodeName(doomed));
    await ready.stop();
  }, 240_000);
});

describe("a leader killed -9 while its moves roll", () => {
  it("leaves its guards to the next leader, which keeps the replicas, lets the drain finish and deletes them", async () => {
    const group = `dk-${randomBytes(3).toString("hex")}`;
    const [doomed] = await twoSpotNodes(group);
    const name = "failover";
    await apps.createNamespacedDeployment({ namespace: ns.name, body: workload(name, group) });
    await waitForAvailable(kc, ns.name, name, 4);
    const standby = await suite.stack.startWatcher("watcher-2");
    const ready = await trackReadyReplicas(kc, ns.name);

    const t0 = Date.now();
    await suite.stack.send(
      buildEventBridgeEvent({
        kind: "spot-interruption",
        instanceId: instanceIdOf(doomed!),
        region: "eu-west-1",
      }),
    );
    await waitFor("the guard", async () => ((await guards()).length === 1 ? true : undefined), {
      intervalMs: 50,
    });
    suite.stack.watcher!.child.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + DRAIN_AFTER_MS - Date.now())));
    const drained = drain(nodeName(doomed!));

    const healthyAt = await verdictOf(name, NOTICE_MS - (Date.now() - t0));
    const drainResult = await drained;
    const death = Date.now();
    expect(drainResult.code, drainResult.stderr).toBe(0);
    expect(drainResult.ms + DRAIN_AFTER_MS).toBeLessThan(NOTICE_MS);
    expect(healthyAt - t0).toBeLessThan(NOTICE_MS);
    expect(ready.fewest(name, t0, death)).toEqual({ watched: 4, sampled: 4 });
    await waitFor("no drain guard left", async () => ((await guards()).length === 0 ? true : undefined), {
      timeoutMs: 10_000,
    });
    const metrics = await suite.stack.watcherMetrics(standby.healthPort);
    expect(metrics).toMatch(/spot_orchestrator_drain_guards_total\{result="released-verdict"\} 1\b/);
    await ready.stop();
  }, 240_000);
});
