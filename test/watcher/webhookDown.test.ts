// A move made while the webhook is down (failurePolicy Ignore: the apiserver stores the change unmutated):
// the watcher records the move's time and label itself, its drift repair places the template, and the
// recovery cooldown counts from the move, not from time 0. And a move back to spot made while the webhook is
// down during a Fargate stint: an apply's (a GitOps sync of `compute: spot`, kubectl apply dropping
// `compute`) is undone by the drift pass, the stint restored and told of; a person's `kubectl annotate` is
// honoured. The appliers are the real kubectl, as a person and as kustomize-controller's field manager.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppsV1Api, type V1Deployment, type V1Node } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { Annotation, COMPUTE_LABEL } from "../../core/contract.ts";
import { isPlaced } from "../../core/placement.ts";
import { parseTime } from "../../core/time.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, removeNode } from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { optedInApp } from "../support/workloads.ts";
import { kubectl, writeManifest } from "../gitops/appliers.ts";
import {
  eventsFor,
  interruptionFor,
  startOrchestratorWebhook,
  startTestWatcher,
  testConfig,
  type RunningWebhook,
  type TestWatcher,
} from "../support/watcherParts.ts";

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

describe("a move back to spot made while the webhook is down, during a Fargate stint", () => {
  const stintNs = useNamespace("watcher-webhook-down-apply");
  const manifests = mkdtempSync(join(tmpdir(), "sfo-webhook-down-"));
  const stintNodes: V1Node[] = [];
  const lines: Record<string, unknown>[] = [];
  let stintWatcher: TestWatcher | undefined;
  let webhook: RunningWebhook | undefined;

  afterAll(async () => {
    await stintWatcher?.close();
    await webhook?.close();
    await Promise.all(stintNodes.map((n) => removeNode(kc, n.metadata?.name ?? "")));
  });

  const read = (name: string) => apps.readNamespacedDeployment({ namespace: stintNs.name, name });
  const run = async (args: string[]) => {
    const result = await kubectl(args);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${result.stderr}`);
    return result;
  };

  /** The manifest of `name` as it sits in git, pinned to its own spot node, `compute` as given. */
  function gitManifest(name: string, node: V1Node, compute?: "spot"): V1Deployment {
    const d = optedInApp(name, 1, { "kubernetes.io/hostname": node.metadata!.name! });
    d.metadata!.namespace = stintNs.name;
    if (compute) d.metadata!.annotations![Annotation.compute] = compute;
    return d;
  }

  /**
   * `apply` creates the Deployment; with the webhook up, an interruption of its node moves it to Fargate (the
   * webhook places it), then the webhook stops answering. Returns the Deployment as the stint left it.
   */
  async function inStint(name: string, apply: (node: V1Node) => Promise<void>): Promise<V1Deployment> {
    const [node] = await addSpotNodes(kc, 1, { nodegroup: `${group}-${name}` });
    stintNodes.push(node!);
    stintWatcher ??= await startTestWatcher(
      testConfig(stintNs.name, { ROLLOUT_TIMEOUT: "2s" }),
      pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) }),
    );
    webhook ??= await startOrchestratorWebhook(kc, stintWatcher.config, stintNs.name);
    await apply(node!);
    await waitFor(`${name} to run on spot`, async () => (await read(name)).status?.availableReplicas === 1);
    await stintWatcher.handle(interruptionFor(node!));
    await stintWatcher.idle();
    const moved = await read(name);
    expect(moved.metadata?.annotations).toMatchObject({
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "spot-interruption",
    });
    expect(isPlaced(moved, "fargate", stintWatcher.config.compute)).toBe(true);
    return moved;
  }

  /**
   * Drift passes until `done` holds for the Deployment: a pass that meets a write in between (the Deployment
   * controller's status, as the rollout an apply started goes on) leaves it to the next, as the loop does.
   */
  const driftUntil = (name: string, what: string, done: (d: V1Deployment) => boolean) =>
    waitFor(
      what,
      async () => {
        await stintWatcher!.drift.runOnce();
        const d = await read(name);
        return done(d) ? d : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );

  const stopWebhook = async () => {
    await webhook?.stopServing();
    webhook = undefined;
  };
  const restoredCount = async () =>
    (await stintWatcher!.metrics.applyReverts.get()).values.find((v) => v.labels.compute === "fargate")
      ?.value ?? 0;

  it("undoes a server-side apply of compute: spot (a GitOps sync): compute and placement restored, told of", async () => {
    const name = "synced";
    let file = "";
    const stint = await inStint(name, async (node) => {
      file = writeManifest(manifests, gitManifest(name, node, "spot"));
      await run(["apply", "--server-side", "--field-manager=kustomize-controller", "-f", file]);
    });
    await stopWebhook();
    // the sync Flux makes (it forces ownership of what it applies)
    await run([
      "apply",
      "--server-side",
      "--force-conflicts",
      "--field-manager=kustomize-controller",
      "-f",
      file,
    ]);
    const undone = await read(name);
    expect(undone.metadata?.annotations?.[Annotation.compute]).toBe("spot");
    expect(undone.metadata?.labels?.[COMPUTE_LABEL]).toBe("fargate");
    expect(isPlaced(undone, "fargate", stintWatcher!.config.compute)).toBe(false);

    const restored = await driftUntil(
      name,
      "the stint restored",
      (d) => d.metadata?.annotations?.[Annotation.compute] === "fargate",
    );
    expect(restored.metadata?.annotations).toMatchObject({
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "spot-interruption",
      [Annotation.changedAt]: stint.metadata!.annotations![Annotation.changedAt],
    });
    expect(isPlaced(restored, "fargate", stintWatcher!.config.compute)).toBe(true);
    // it rolls as a move does: every replacement at once, none taken down first
    expect(restored.spec?.strategy?.rollingUpdate).toEqual({ maxSurge: "100%", maxUnavailable: 0 });
    expect(await restoredCount()).toBe(1);
    const said = lines.find((l) => l["name"] === name && String(l["msg"]).startsWith("an apply moved"));
    expect(said).toMatchObject({ level: 40, applier: "kustomize-controller", how: "server-side apply" });
    const event = await waitFor("the ApplyReverted Event", async () =>
      (await eventsFor(kc, restored)).find((e) => e.reason === "ApplyReverted"),
    );
    expect(event.type).toBe("Warning");
    expect(event.note).toContain(
      'A server-side apply by "kustomize-controller" set spot-orchestrator.io/compute=spot while the webhook was unavailable',
    );
    expect(event.note).toContain(
      `kubectl annotate deployment ${name} spot-orchestrator.io/compute=spot --overwrite`,
    );
    // done: the next pass finds nothing to restore
    await stintWatcher!.drift.runOnce();
    expect(await restoredCount()).toBe(1);
    expect((await read(name)).metadata?.annotations?.[Annotation.compute]).toBe("fargate");
  });

  it("undoes a kubectl apply that drops compute from the manifest", async () => {
    const name = "dropped";
    let node: V1Node | undefined;
    await inStint(name, async (n) => {
      node = n;
      await run(["apply", "-f", writeManifest(manifests, gitManifest(name, n, "spot"))]);
    });
    await stopWebhook();
    // the manifest no longer says compute: kubectl's three-way merge removes what it last applied
    await run(["apply", "-f", writeManifest(manifests, gitManifest(name, node!))]);
    expect((await read(name)).metadata?.annotations?.[Annotation.compute]).toBeUndefined();

    const before = await restoredCount();
    const restored = await driftUntil(
      name,
      "the stint restored",
      (d) => d.metadata?.annotations?.[Annotation.compute] === "fargate",
    );
    expect(isPlaced(restored, "fargate", stintWatcher!.config.compute)).toBe(true);
    expect(await restoredCount()).toBe(before + 1);
    const event = await waitFor("the ApplyReverted Event", async () =>
      (await eventsFor(kc, restored)).find((e) => e.reason === "ApplyReverted"),
    );
    expect(event.note).toContain(
      'A client-side apply by "kubectl-client-side-apply" removed spot-orchestrator.io/compute',
    );
  });

  it("honours a person's kubectl annotate --overwrite compute=spot: placed for spot, recorded as manual", async () => {
    const name = "forced";
    await inStint(name, async (node) => {
      await apps.createNamespacedDeployment({ namespace: stintNs.name, body: gitManifest(name, node) });
    });
    await stopWebhook();
    await run([
      "-n",
      stintNs.name,
      "annotate",
      "deployment",
      name,
      `${Annotation.compute}=spot`,
      "--overwrite",
    ]);

    const before = await restoredCount();
    const moved = await driftUntil(name, "the template placed for spot", (d) =>
      isPlaced(d, "spot", stintWatcher!.config.compute),
    );
    expect(moved.metadata?.annotations).toMatchObject({
      [Annotation.compute]: "spot",
      [Annotation.reason]: "manual",
    });
    expect(moved.metadata?.labels?.[COMPUTE_LABEL]).toBe("spot");
    expect(await restoredCount()).toBe(before);
    await expect
      .poll(async () => (await eventsFor(kc, moved)).map((e) => e.reason))
      .toContain("PlacementRepaired");
    expect((await eventsFor(kc, moved)).map((e) => e.reason)).not.toContain("ApplyReverted");
  });
});
