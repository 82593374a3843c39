// A move made while the webhook is down (failurePolicy Ignore: the apiserver stores the change unmutated):
// the watcher records the move's time and label itself, its drift repair places the template, and the
// recovery cooldown counts from the move, not from time 0.
import { randomBytes } from "node:crypto";
import { AppsV1Api, type V1Node } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { Annotation, COMPUTE_LABEL } from "../../core/contract.ts";
import { isPlaced } from "../../core/placement.ts";
import { parseTime } from "../../core/time.ts";
import { testKubeConfig } from "../cluster/kube.ts";
import { useNamespace } from "../cluster/namespace.ts";
import { addSpotNodes, removeNode } from "../cluster/nodes.ts";
import { waitFor } from "../cluster/wait.ts";
import { optedInApp } from "../e2e/workloads.ts";
import { interruptionFor, startTestWatcher, testConfig, type TestWatcher } from "./harness.ts";

const apps = testKubeConfig().makeApiClient(AppsV1Api);
const kc = testKubeConfig();
const ns = useNamespace("watcher-webhook-down");
const group = `down-${randomBytes(3).toString("hex")}`;
const nodes: V1Node[] = [];
let watcher: TestWatcher | undefined;

afterAll(async () => {
  await watcher?.close();
  await Promise.all(nodes.map((n) => removeNode(kc, n.metadata?.name ?? "")));
});

describe("a move made while the webhook is down", () => {
  it("has its time recorded by the watcher, so recovery waits the cooldown from the move", async () => {
    nodes.push(...(await addSpotNodes(kc, 1, { nodegroup: group })));
    const node = nodes[0]!;
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: optedInApp("web", 1, { "kubernetes.io/hostname": node.metadata!.name! }),
    });
    const placed = await waitFor("web to run on spot", async () => {
      const d = await apps.readNamespacedDeployment({ namespace: ns.name, name: "web" });
      return d.status?.availableReplicas === 1 ? d : undefined;
    });
    // no webhook in this namespace: nothing labelled it, nothing will place the template
    expect(placed.metadata?.labels?.[COMPUTE_LABEL]).toBeUndefined();
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    watcher = await startTestWatcher(testConfig(ns.name, { ROLLOUT_TIMEOUT: "2s" }), log);

    const flippedAt = Math.floor(Date.now() / 1000) * 1000;
    await watcher.handle(interruptionFor(node));
    const flipped = await apps.readNamespacedDeployment({ namespace: ns.name, name: "web" });
    expect(flipped.metadata?.annotations?.[Annotation.compute]).toBe("fargate");
    expect(flipped.metadata?.labels?.[COMPUTE_LABEL]).toBe("fargate");
    expect(parseTime(flipped.metadata?.annotations?.[Annotation.changedAt])).toBeGreaterThanOrEqual(
      flippedAt,
    );
    // the webhook did not place it; the drift repair does, and keeps the move's time
    expect(isPlaced(flipped, "fargate", watcher.config.compute)).toBe(false);
    expect(await watcher.drift.runOnce()).toBe(1);
    const repaired = await apps.readNamespacedDeployment({ namespace: ns.name, name: "web" });
    expect(isPlaced(repaired, "fargate", watcher.config.compute)).toBe(true);
    expect(repaired.metadata?.annotations?.[Annotation.changedAt]).toBe(
      flipped.metadata?.annotations?.[Annotation.changedAt],
    );
    await watcher.idle();

    // spot has room (the node's interruption is not in this watcher's storm guard): only the cooldown
    // (45 m) keeps it on Fargate
    expect(await watcher.recovery.runOnce()).toEqual([]);
    const skip = lines.find((l) => l["msg"] === "recovery skipped" && l["name"] === "web");
    expect(skip?.["why"]).toMatch(/^cooldown\/backoff: next attempt in 4[45]m/);
    const after = await apps.readNamespacedDeployment({ namespace: ns.name, name: "web" });
    expect(after.metadata?.annotations?.[Annotation.compute]).toBe("fargate");
  });
});
