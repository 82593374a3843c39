// Recovery to spot end to end, with the real webhook and watcher processes and shortened timings:
// the full cycle back to the original placement, skips while spot cannot take the workload (each pass's
// logged reason), rollback with growing backoff, a person's choice left alone, a Deployment not pinned to
// spot, and an interruption arriving during a recovery.
import { randomBytes } from "node:crypto";
import {
  EventsV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1Node,
} from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import {
  addOnDemandNodes,
  addSpotNodes,
  cordon,
  instanceIdOf,
  terminateNode,
  uncordon,
} from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { readLog } from "../../harness/stack/logs.ts";
import { clients, healthyOn, podsOf, waitForAnnotations, waitForAvailable } from "../support/deployments.ts";
import { useStack } from "../support/suiteStack.ts";
import { optedInApp } from "../support/workloads.ts";

const kc = testKubeConfig();
const { apps, core } = clients(kc);
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const ns = useNamespace("e2e-recovery");
const suffix = randomBytes(3).toString("hex");
const BACKOFF_BASE_MS = 3_000;
const suite = useStack(kc, ns, {
  LOG_LEVEL: "debug",
  RECOVERY_INTERVAL: "500ms",
  RECOVERY_COOLDOWN: "2s",
  RECOVERY_TIMEOUT: "4s",
  RECOVERY_BACKOFF_BASE: `${BACKOFF_BASE_MS}ms`,
  RECOVERY_MAX_BACKOFF: "12s",
  ROLLOUT_TIMEOUT: "60s",
});
const { nodes } = suite;

async function pool(
  name: string,
  count: number,
  options: { zone?: string; cpu?: string } = {},
): Promise<V1Node[]> {
  const made = await addSpotNodes(kc, count, {
    nodegroup: `${name}-${suffix}`,
    zone: options.zone ?? "eu-west-1b",
    ...(options.cpu ? { cpu: options.cpu } : {}),
  });
  nodes.push(...made);
  return made;
}

const nodeName = (n: V1Node) => n.metadata?.name ?? "";

/** Moves a Deployment to Fargate the way the watcher does on an interruption (as the orchestrator's identity). */
async function moveToFargate(name: string, reason = "spot-interruption"): Promise<void> {
  await apps.patchNamespacedDeployment(
    {
      namespace: ns.name,
      name,
      body: {
        metadata: {
          annotations: {
            [Annotation.compute]: "fargate",
            [Annotation.reason]: reason,
            [Annotation.rollout]: "healthy",
          },
        },
      },
    },
    mergePatch,
  );
}

async function create(deployment: V1Deployment): Promise<V1Deployment> {
  await apps.createNamespacedDeployment({ namespace: ns.name, body: deployment });
  return waitForAvailable(kc, ns.name, deployment.metadata!.name!, deployment.spec!.replicas!);
}

async function annotationsOf(name: string): Promise<Record<string, string>> {
  return (await apps.readNamespacedDeployment({ namespace: ns.name, name })).metadata?.annotations ?? {};
}

/** Why the next `passes` recovery passes past the cooldown leave `name` alone, as the watcher logs it. */
async function skipsOf(name: string, passes = 3): Promise<string[]> {
  const log = suite.stack.watcher!.logFile;
  const from = readLog(log).length;
  return waitFor(`${passes} recovery passes to skip ${name}`, () => {
    const whys = readLog(log)
      .slice(from)
      .filter((l) => l.msg === "recovery skipped" && l["namespace"] === ns.name && l["name"] === name)
      .map((l) => String(l["why"]))
      .filter((why) => !why.startsWith("cooldown/backoff"));
    return whys.length >= passes ? whys : undefined;
  });
}

describe("recovery to spot", () => {
  it("goes spot → interruption → Fargate → cooldown → spot, with the original placement restored exactly", async () => {
    const [x] = await pool("cycle", 2, { zone: "eu-west-1c" });
    const app = optedInApp(
      "cycle",
      2,
      { "eks.amazonaws.com/nodegroup": `cycle-${suffix}` },
      { spreadOverNodes: true },
    );
    app.spec!.template.spec!.tolerations = [{ key: "spot", operator: "Exists", effect: "NoSchedule" }];
    app.spec!.template.spec!.affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: "topology.kubernetes.io/zone", operator: "In", values: ["eu-west-1c"] },
              ],
            },
          ],
        },
      },
    };
    const original = (await create(app)).spec!.template;

    await suite.stack.send(
      buildEventBridgeEvent({ kind: "spot-interruption", instanceId: instanceIdOf(x!), region: "eu-west-1" }),
    );
    // With the short cooldown, recovery may start as soon as the move is healthy: wait for the move itself,
    // and read its verdict from the Events afterwards.
    await waitForAnnotations(
      kc,
      ns.name,
      "cycle",
      "moved by the interruption",
      (a) => a[Annotation.reason] === "spot-interruption" || a[Annotation.reason] === "recovery",
    );
    await terminateNode(kc, nodeName(x!));
    await pool("cycle", 1, { zone: "eu-west-1c" }); // capacity comes back

    const back = await waitForAnnotations(
      kc,
      ns.name,
      "cycle",
      "recovered to spot",
      (a) => healthyOn("spot")(a) && a[Annotation.reason] === "recovery",
    );
    const a = back.metadata!.annotations!;
    expect(a[Annotation.spotPlacement]).toBeUndefined();
    expect(a[Annotation.failedRecoveryAttempts]).toBeUndefined();
    expect(a[Annotation.lastRecoveryAt]).toMatch(/^\d{4}-/);
    expect(JSON.stringify(back.spec!.template)).toBe(JSON.stringify(original));
    const reasons = (await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns.name })).items
      .filter((e) => e.regarding?.name === "cycle")
      .map((e) => e.reason);
    expect(reasons).toEqual(
      expect.arrayContaining([
        "MigratingToFargate",
        "MigratedToFargate",
        "RecoveringToSpot",
        "RecoveredToSpot",
      ]),
    );
    for (const pod of await podsOf(kc, ns.name, "cycle")) {
      const node = await core.readNode({ name: pod.spec!.nodeName! });
      expect(node.metadata?.labels?.["eks.amazonaws.com/capacityType"]).toBe("SPOT");
    }
  });

  it.each([
    [
      "cordoned",
      async (n: V1Node) => void (await cordon(kc, nodeName(n))),
      async (n: V1Node) => void (await uncordon(kc, nodeName(n))),
    ],
  ])(
    "is skipped while the only matching spot node is %s, and happens once it is usable",
    async (state, spoil, heal) => {
      const [n] = await pool("skip", 1);
      await create(optedInApp("skip", 1, { "eks.amazonaws.com/nodegroup": `skip-${suffix}` }));
      await spoil(n!);
      await moveToFargate("skip");
      await waitForAnnotations(kc, ns.name, "skip", "on fargate", (a) => a[Annotation.compute] === "fargate");
      await waitForAvailable(kc, ns.name, "skip", 1);
      for (const why of await skipsOf("skip")) expect(why).toMatch(new RegExp(`: ${state}\\)$`));
      expect(await annotationsOf("skip")).not.toHaveProperty([Annotation.lastRecoveryAt]);
      await heal(n!);
      await waitForAnnotations(kc, ns.name, "skip", "recovered to spot", healthyOn("spot"));
    },
  );

  it("is skipped when no spot node has room or matches the restored node selector", async () => {
    await pool("small", 1, { cpu: "250m" });
    await create(optedInApp("roomless", 1, { "eks.amazonaws.com/nodegroup": `small-${suffix}` }));
    const elsewhere = optedInApp("nowhere", 1, { "eks.amazonaws.com/nodegroup": `small-${suffix}` });
    await create(elsewhere);
    // roomless asks for more CPU than the node has left once it is gone; nowhere's restored selector names no node.
    await apps.patchNamespacedDeployment(
      {
        namespace: ns.name,
        name: "roomless",
        body: {
          metadata: {
            annotations: { [Annotation.compute]: "fargate", [Annotation.reason]: "spot-interruption" },
          },
        },
      },
      mergePatch,
    );
    await waitForAnnotations(
      kc,
      ns.name,
      "roomless",
      "on fargate",
      (a) => a[Annotation.compute] === "fargate",
    );
    await apps.patchNamespacedDeployment(
      {
        namespace: ns.name,
        name: "roomless",
        body: {
          spec: {
            template: { spec: { containers: [{ name: "app", resources: { requests: { cpu: "1" } } }] } },
          },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    await moveToFargate("nowhere");
    await waitForAnnotations(
      kc,
      ns.name,
      "nowhere",
      "on fargate",
      (a) => a[Annotation.compute] === "fargate",
    );
    const stash = JSON.parse((await annotationsOf("nowhere"))[Annotation.spotPlacement]!) as {
      nodeSelector: Record<string, string>;
    };
    stash.nodeSelector = { "eks.amazonaws.com/nodegroup": `missing-${suffix}` };
    await apps.patchNamespacedDeployment(
      {
        namespace: ns.name,
        name: "nowhere",
        body: { metadata: { annotations: { [Annotation.spotPlacement]: JSON.stringify(stash) } } },
      },
      mergePatch,
    );
    for (const why of await skipsOf("roomless")) expect(why).toMatch(/^room for 0 of 1 replicas/);
    for (const why of await skipsOf("nowhere")) {
      expect(why).toBe("no spot node matches the Deployment's node selector, affinity and tolerations");
    }
    for (const name of ["roomless", "nowhere"]) {
      const a = await annotationsOf(name);
      expect(a[Annotation.compute]).toBe("fargate");
      expect(a).not.toHaveProperty([Annotation.lastRecoveryAt]);
    }
  });

  it("never undoes a person's move to Fargate (reason=manual)", async () => {
    await pool("manual", 1);
    await create(optedInApp("manual", 1, { "eks.amazonaws.com/nodegroup": `manual-${suffix}` }));
    await moveToFargate("manual", "manual");
    await waitForAnnotations(kc, ns.name, "manual", "on fargate", (a) => a[Annotation.compute] === "fargate");
    expect(await skipsOf("manual")).toEqual(Array(3).fill("moved to fargate by a person (reason=manual)"));
    const a = await annotationsOf("manual");
    expect(a[Annotation.compute]).toBe("fargate");
    expect(a[Annotation.reason]).toBe("manual");
    expect(a).not.toHaveProperty([Annotation.lastRecoveryAt]);
  });

  it("rolls back to Fargate when spot pods cannot run, backing off 1×, 2× the base between attempts", async () => {
    const [n] = await pool("blocked", 1);
    // A pod on the spot node that the app's required anti-affinity refuses to share a node with: the capacity
    // check passes, the scheduler does not.
    const blocker = optedInApp("blocker", 1, { "kubernetes.io/hostname": nodeName(n!) });
    delete blocker.metadata!.annotations;
    await create(blocker);
    const app = optedInApp("blocked", 1, { "eks.amazonaws.com/nodegroup": `blocked-${suffix}` });
    app.spec!.template.spec!.affinity = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { app: "blocker" } } },
        ],
      },
    };
    app.spec!.template.spec!.nodeSelector = { "eks.amazonaws.com/nodegroup": `blocked-${suffix}` };
    await apps.createNamespacedDeployment({
      namespace: ns.name,
      body: {
        ...app,
        metadata: {
          ...app.metadata,
          annotations: { ...app.metadata!.annotations, [Annotation.compute]: "fargate" },
        },
      },
    });
    await moveToFargate("blocked");
    await waitForAvailable(kc, ns.name, "blocked", 1);

    const attempts: number[] = [];
    for (const failures of [1, 2, 3]) {
      const d = await waitForAnnotations(
        kc,
        ns.name,
        "blocked",
        `failed recovery #${failures} rolled back`,
        (a) =>
          a[Annotation.failedRecoveryAttempts] === String(failures) && a[Annotation.compute] === "fargate",
        60_000,
      );
      const a = d.metadata!.annotations!;
      expect(a[Annotation.reason]).toBe("rollback");
      expect(a[Annotation.rollout]).toMatch(/^failed: /);
      attempts.push(Date.parse(a[Annotation.lastRecoveryAt]!));
    }
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(BACKOFF_BASE_MS);
    expect(attempts[2]! - attempts[1]!).toBeGreaterThanOrEqual(2 * BACKOFF_BASE_MS);
    const reasons = (await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns.name })).items
      .filter((e) => e.regarding?.name === "blocked")
      .map((e) => e.reason);
    expect(reasons).toContain("RecoveryRolledBack");
  });

  // Back on spot means the restored placement, healthy and off Fargate: a Deployment whose placement does
  // not pin it to spot may land on on-demand capacity, and that is not a failure to roll back from.
  it("counts a Deployment not pinned to spot as recovered wherever its placement lets the scheduler put it", async () => {
    const group = { "eks.amazonaws.com/nodegroup": `mixed-${suffix}` };
    const [spot] = await pool("mixed", 1);
    const [onDemand] = await addOnDemandNodes(kc, 1, { nodegroup: `mixed-${suffix}` });
    nodes.push(onDemand!);
    // spot has room for the capacity check, but the scheduler can only use the on-demand node
    const blocker = optedInApp("mixed-blocker", 1, { "kubernetes.io/hostname": nodeName(spot!) });
    delete blocker.metadata!.annotations;
    await create(blocker);
    const app = optedInApp("mixed", 1, group);
    app.spec!.template.spec!.affinity = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { app: "mixed-blocker" } } },
        ],
      },
    };
    await create(app);
    await moveToFargate("mixed");
    await waitForAnnotations(kc, ns.name, "mixed", "on fargate", (a) => a[Annotation.compute] === "fargate");

    const ended = await waitForAnnotations(
      kc,
      ns.name,
      "mixed",
      "the recovery to end",
      (a) =>
        (a[Annotation.reason] === "recovery" && a[Annotation.rollout] === "healthy") ||
        a[Annotation.failedRecoveryAttempts] !== undefined,
    );
    expect(ended.metadata!.annotations).toMatchObject({
      [Annotation.compute]: "spot",
      [Annotation.reason]: "recovery",
      [Annotation.rollout]: "healthy",
    });
    expect(ended.metadata!.annotations).not.toHaveProperty([Annotation.failedRecoveryAttempts]);
    for (const pod of await podsOf(kc, ns.name, "mixed"))
      expect(pod.spec!.nodeName).toBe(nodeName(onDemand!));
  });

  it("lets an interruption of the node a recovery is moving onto win", async () => {
    const [target] = await pool("race", 1, { zone: "eu-west-1a" });
    await create(optedInApp("race", 1, { "eks.amazonaws.com/nodegroup": `race-${suffix}` }));
    await moveToFargate("race");
    await waitForAnnotations(kc, ns.name, "race", "on fargate", (a) => a[Annotation.compute] === "fargate");
    await waitForAvailable(kc, ns.name, "race", 1);
    // Slow the move back down so it is still in progress when the interruption comes.
    await apps.patchNamespacedDeployment(
      { namespace: ns.name, name: "race", body: { spec: { minReadySeconds: 30 } } },
      mergePatch,
    );

    await waitForAnnotations(
      kc,
      ns.name,
      "race",
      "recovery under way",
      (a) => a[Annotation.compute] === "spot" && a[Annotation.reason] === "recovery",
    );
    await waitFor("a spot pod on the target node", async () =>
      (await podsOf(kc, ns.name, "race")).some((p) => p.spec?.nodeName === nodeName(target!)),
    );
    await suite.stack.send(
      buildEventBridgeEvent({
        kind: "spot-interruption",
        instanceId: instanceIdOf(target!),
        region: "eu-west-1",
      }),
    );

    const d = await waitForAnnotations(
      kc,
      ns.name,
      "race",
      "back on fargate by the interruption, the recovery counted as failed",
      (a) => a[Annotation.compute] === "fargate" && a[Annotation.failedRecoveryAttempts] === "1",
    );
    expect(d.metadata!.annotations![Annotation.reason]).toBe("spot-interruption");
  });
});
