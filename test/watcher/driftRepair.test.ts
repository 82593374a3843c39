// Drift repair against the real apiserver: a Deployment whose `compute` changed while the webhook was not
// there (failurePolicy Ignore) gets its template placed by the watcher.
import { AppsV1Api, type V1Deployment } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { Annotation, COMPUTE_LABEL } from "../../core/contract.ts";
import { isPlaced } from "../../core/placement.ts";
import { parseTime } from "../../core/time.ts";
import { EventRecorder } from "../../watcher/alerts/kubeEvents.ts";
import { KubeDeployments } from "../../watcher/moves/deployments.ts";
import { DriftRepair } from "../../watcher/moves/drift.ts";
import { createWatcherMetrics } from "../../watcher/metrics.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { emptyApp } from "../support/workloads.ts";
import { eventsFor, testConfig, testKube } from "../support/watcherParts.ts";
import { quietLog } from "../support/log.ts";
import { optInScopeOf } from "../../core/config.ts";

const apps = testKubeConfig().makeApiClient(AppsV1Api);
const ns = useNamespace("watcher-drift");

function deployment(name: string, annotations: Record<string, string>): V1Deployment {
  return emptyApp(name, annotations, {
    nodeSelector: { "eks.amazonaws.com/capacityType": "SPOT" },
    tolerations: [{ key: "spot", operator: "Exists", effect: "NoSchedule" }],
  });
}

describe("drift repair", () => {
  it("places an opted-in Deployment whose template does not match its compute, once", async () => {
    const config = testConfig(ns.name);
    const kube = testKube();
    const metrics = createWatcherMetrics();
    const recorder = new EventRecorder({ kube, identity: "watcher-test", log: quietLog });
    const deployments = new KubeDeployments(kube, optInScopeOf(config));
    const drift = new DriftRepair({ deployments, config, log: quietLog, metrics, recorder });
    const fargate = { [Annotation.compute]: "fargate" };
    await Promise.all([
      apps.createNamespacedDeployment({
        namespace: ns.name,
        body: deployment("drifted", { [Annotation.enabled]: "true", ...fargate }),
      }),
      apps.createNamespacedDeployment({ namespace: ns.name, body: deployment("not-opted-in", fargate) }),
      apps.createNamespacedDeployment({
        namespace: ns.name,
        body: deployment("on-spot", { [Annotation.enabled]: "true" }),
      }),
    ]);
    // settled: the Deployment controller has written its status (a write in between is a conflict, and
    // a conflict only waits for the next pass)
    for (const name of ["drifted", "not-opted-in", "on-spot"]) {
      await waitFor(`${name} to be observed`, async () => {
        const d = await apps.readNamespacedDeployment({ namespace: ns.name, name });
        return d.status?.observedGeneration === d.metadata?.generation;
      });
    }
    const untouched = await apps.readNamespacedDeployment({ namespace: ns.name, name: "not-opted-in" });

    const startedAt = Date.now();
    expect(await drift.runOnce()).toBe(1);

    const repaired = await apps.readNamespacedDeployment({ namespace: ns.name, name: "drifted" });
    expect(isPlaced(repaired, "fargate", config.compute)).toBe(true);
    // the webhook did not see the change: the repair records it, so the recovery cooldown starts now
    expect(repaired.metadata?.labels?.[COMPUTE_LABEL]).toBe("fargate");
    expect(parseTime(repaired.metadata?.annotations?.[Annotation.changedAt])).toBeGreaterThanOrEqual(
      Math.floor(startedAt / 1000) * 1000,
    );
    expect(repaired.spec?.template.metadata?.labels?.["compute-type"]).toBe("fargate");
    expect(repaired.spec?.template.spec?.tolerations).toBeUndefined();
    expect(repaired.metadata?.annotations?.[Annotation.spotPlacement]).toContain("capacityType");
    const after = await apps.readNamespacedDeployment({ namespace: ns.name, name: "not-opted-in" });
    expect(after.metadata?.resourceVersion).toBe(untouched.metadata?.resourceVersion);
    expect((await metrics.driftRepairs.get()).values[0]?.value).toBe(1);
    await expect
      .poll(async () => (await eventsFor(testKubeConfig(), repaired)).map((e) => e.reason))
      .toEqual(["PlacementRepaired"]);

    expect(await drift.runOnce()).toBe(0);
  });
});
