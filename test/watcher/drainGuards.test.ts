// Drain guards a leader left behind (killed -9, its node lost): the next leader's first pass deletes those
// whose move is over or whose time is up, keeps the others until their time, and never touches a
// PodDisruptionBudget of the user's.
import { AppsV1Api, PolicyV1Api, type V1Deployment } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { GUARD_LABEL, guardFor } from "../../watcher/moves/drainGuard.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { emptyApp } from "../support/workloads.ts";
import { startTestWatcher, testConfig, type TestWatcher } from "../support/watcherParts.ts";

const kc = testKubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const policy = kc.makeApiClient(PolicyV1Api);
const ns = useNamespace("watcher-drain-guards");
let watcher: TestWatcher | undefined;

afterAll(async () => {
  await watcher?.close();
});

const moving = { [Annotation.compute]: "fargate", [Annotation.rollout]: "progressing" };

async function deployment(name: string, annotations: Record<string, string>): Promise<V1Deployment> {
  return apps.createNamespacedDeployment({
    namespace: ns.name,
    body: emptyApp(name, { [Annotation.enabled]: "true", ...annotations }),
  });
}

async function guardOf(d: V1Deployment, untilMs: number): Promise<void> {
  const body = guardFor(d, new Date(Date.now() + untilMs), ["5d8f7c9b"]);
  await policy.createNamespacedPodDisruptionBudget({ namespace: ns.name, body });
}

const budgets = async () =>
  (await policy.listNamespacedPodDisruptionBudget({ namespace: ns.name })).items
    .map((b) => b.metadata!.name!)
    .sort();

describe("drain guards left by a previous leader", () => {
  it("are deleted when their move is over or their time is up, kept until their time otherwise", async () => {
    await guardOf(
      await deployment("done", { [Annotation.compute]: "fargate", [Annotation.rollout]: "healthy" }),
      60_000,
    );
    await guardOf(await deployment("late", moving), -1_000);
    await guardOf(await deployment("moving", moving), 4_000);
    await policy.createNamespacedPodDisruptionBudget({
      namespace: ns.name,
      body: {
        metadata: { name: "users-own" },
        spec: { maxUnavailable: 1, selector: { matchLabels: { app: "done" } } },
      },
    });
    expect(await budgets()).toEqual([
      "done-spot-orchestrator-guard",
      "late-spot-orchestrator-guard",
      "moving-spot-orchestrator-guard",
      "users-own",
    ]);

    watcher = await startTestWatcher(testConfig(ns.name));
    await watcher.sweepGuards();
    expect(await budgets()).toEqual(["moving-spot-orchestrator-guard", "users-own"]);
    const leftovers = await watcher.metrics.registry.getSingleMetricAsString(
      "spot_orchestrator_drain_guards_total",
    );
    expect(leftovers).toContain('spot_orchestrator_drain_guards_total{result="released-leftover"} 2');

    await waitFor("the moving Deployment's guard to go at its time", async () =>
      (await budgets()).length === 1 ? true : undefined,
    );
    expect(await budgets()).toEqual(["users-own"]);
    const deadline = await watcher.metrics.registry.getSingleMetricAsString(
      "spot_orchestrator_drain_guards_total",
    );
    expect(deadline).toContain('spot_orchestrator_drain_guards_total{result="released-deadline"} 1');
    const labelled = await policy.listNamespacedPodDisruptionBudget({
      namespace: ns.name,
      labelSelector: GUARD_LABEL,
    });
    expect(labelled.items).toEqual([]);
  });
});
