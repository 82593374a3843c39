// Zero downtime on EKS as it really is: Fargate pods take 30-40 s from binding to Ready (the emulator's
// profile, harness/fargate/startup.ts), EC2 pods 1.5 s, and the Deployments have the sizes and strategies users
// give them. One spot warning at t = 0 for a node that holds a replica of each; the node dies once all are on
// Fargate (at t = 120 s at the latest). Every Deployment keeps all its replicas Ready throughout, by a replay
// of the pod watch and by a list every 200 ms; its own strategy is back byte for byte with the verdict; a
// GitOps re-apply during the move changes nothing; the recovery to spot is surge-safe too and restores the
// template exactly.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Deployment, V1Node } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { SURGE_STRATEGY } from "../../core/moveStrategy.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, instanceIdOf, terminateNode } from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { fluxApply, writeManifest } from "../gitops/appliers.ts";
import { trackReadyReplicas, type ReadyReplicas } from "./readyReplicas.ts";
import { clients, waitForAvailable } from "../support/deployments.ts";
import { useStack } from "../support/suiteStack.ts";
import { serviceFor, shapedApp, USUAL_SHAPES } from "../support/workloads.ts";

const kc = testKubeConfig();
const { apps, core } = clients(kc);
const ns = useNamespace("e2e-zero-downtime");
const group = `zd-${randomBytes(3).toString("hex")}`;
const NOTICE_MS = 120_000;
const FARGATE_STARTUP = { meanMs: 35_000, jitterMs: 5_000 };

const suite = useStack(
  kc,
  ns,
  // recovery waits until the moves are over and the node is gone: the cooldown counts from the flip
  { RECOVERY_INTERVAL: "2s", RECOVERY_COOLDOWN: "75s" },
  {},
  { startup: FARGATE_STARTUP },
);

const strategies = USUAL_SHAPES;
const names = Object.keys(strategies);
/** Applied from git by Flux, and re-applied during the move. */
const FROM_GIT = "quota";

function workload(name: string): V1Deployment {
  return shapedApp(name, strategies[name]!, group);
}

const nodeName = (n: V1Node) => n.metadata?.name ?? "";
let doomed: V1Node;
let manifest: string;
const before = new Map<string, V1Deployment>();
let ready: ReadyReplicas;

beforeAll(async () => {
  const made = await addSpotNodes(kc, 2, { nodegroup: group, zone: "eu-west-1b", cpu: "8", memory: "32Gi" });
  suite.nodes.push(...made);
  doomed = made[0]!;
  manifest = writeManifest(mkdtempSync(join(tmpdir(), "zero-downtime-")), {
    ...workload(FROM_GIT),
    metadata: { ...workload(FROM_GIT).metadata, namespace: ns.name },
  });
  await fluxApply([manifest]);
  for (const name of names.filter((n) => n !== FROM_GIT)) {
    await apps.createNamespacedDeployment({ namespace: ns.name, body: workload(name) });
  }
  for (const name of names) {
    await core.createNamespacedService({ namespace: ns.name, body: serviceFor(name) });
    before.set(name, await waitForAvailable(kc, ns.name, name, strategies[name]!.replicas));
  }
  const onDoomed = (
    await core.listNamespacedPod({ namespace: ns.name, fieldSelector: `spec.nodeName=${nodeName(doomed)}` })
  ).items;
  for (const name of names) expect(onDoomed.some((p) => p.metadata?.labels?.app === name)).toBe(true);
  ready = await trackReadyReplicas(kc, ns.name);
}, 240_000);

async function read(name: string): Promise<V1Deployment> {
  return apps.readNamespacedDeployment({ namespace: ns.name, name });
}

/** Waits for the verdict of `name`'s move, failing at once on a failed one; returns when it was seen. */
async function verdictOf(name: string, reason: string, timeoutMs: number): Promise<number> {
  await waitFor(
    `${name}: rollout healthy after ${reason}`,
    async () => {
      const a = (await read(name)).metadata?.annotations ?? {};
      if (a[Annotation.rollout]?.startsWith("failed")) throw new Error(`${name}: ${a[Annotation.rollout]}`);
      return a[Annotation.reason] === reason && a[Annotation.rollout] === "healthy" ? true : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );
  return Date.now();
}

describe("a spot interruption with Fargate as slow as EKS's", () => {
  let t0 = 0;
  let death = 0;

  it("moves Deployments of every strategy to Fargate before the node dies, never below their replicas", async () => {
    t0 = Date.now();
    await suite.stack.send(
      buildEventBridgeEvent({
        kind: "spot-interruption",
        instanceId: instanceIdOf(doomed),
        region: "eu-west-1",
      }),
    );

    // a GitOps re-apply during the move neither undoes the surge nor ends it early
    const moving = await waitFor(`${FROM_GIT} moving with the surge`, async () => {
      const d = await read(FROM_GIT);
      return d.metadata?.annotations?.[Annotation.rollout] === "progressing" ? d : undefined;
    });
    expect(moving.spec!.strategy).toEqual(SURGE_STRATEGY);
    const reapplied = await fluxApply([manifest]);
    const during = await read(FROM_GIT);
    expect(during.spec!.strategy).toEqual(SURGE_STRATEGY);
    expect(during.metadata!.annotations![Annotation.compute]).toBe("fargate");
    expect(JSON.parse(during.metadata!.annotations![Annotation.strategy]!)).toEqual(
      before.get(FROM_GIT)!.spec!.strategy,
    );
    expect(reapplied.changes.find((c) => c.subject.endsWith(`/${FROM_GIT}`))?.action).toMatch(
      /unchanged|configured/,
    );

    const healthyAt = await Promise.all(
      names.map((name) => verdictOf(name, "spot-interruption", NOTICE_MS - (Date.now() - t0))),
    );
    death = Date.now();
    for (const name of names) {
      const { replicas } = strategies[name]!;
      const fewest = ready.fewest(name, t0, death);
      expect({ name, ...fewest }).toEqual({ name, watched: replicas, sampled: replicas });
      expect(ready.belowSince(name, replicas, t0, death)).toBeUndefined();
    }
    expect(Math.max(...healthyAt) - t0).toBeLessThan(NOTICE_MS);
    const terminated = await terminateNode(kc, nodeName(doomed));
    expect(terminated.filter((p) => p.startsWith(`${ns.name}/`))).toEqual([]); // nothing of them was left
    suite.nodes.push(
      ...(await addSpotNodes(kc, 1, { nodegroup: group, zone: "eu-west-1b", cpu: "8", memory: "32Gi" })),
    );

    for (const name of names) {
      const moved = await read(name);
      // the Deployment's own strategy is back byte for byte, and putting it back made no new ReplicaSet
      expect(JSON.stringify(moved.spec!.strategy)).toBe(JSON.stringify(before.get(name)!.spec!.strategy));
      expect(moved.metadata!.annotations![Annotation.strategy]).toBeUndefined();
      const replicaSets = (
        await apps.listNamespacedReplicaSet({ namespace: ns.name, labelSelector: `app=${name}` })
      ).items;
      expect(replicaSets).toHaveLength(2);
      const pods = (await core.listNamespacedPod({ namespace: ns.name, labelSelector: `app=${name}` })).items;
      for (const pod of pods.filter((p) => p.metadata?.deletionTimestamp === undefined)) {
        const node = await core.readNode({ name: pod.spec!.nodeName! });
        expect(node.metadata!.labels!["eks.amazonaws.com/compute-type"]).toBe("fargate");
      }
    }
  }, 240_000);

  it("recovers every one to spot, never below its replicas, with its template and strategy exactly as before", async () => {
    await Promise.all(names.map((name) => verdictOf(name, "recovery", 180_000)));
    const end = Date.now();
    for (const name of names) {
      const { replicas } = strategies[name]!;
      expect({ name, ...ready.fewest(name, death, end) }).toEqual({
        name,
        watched: replicas,
        sampled: replicas,
      });
      const back = await read(name);
      expect(JSON.stringify(back.spec!.template)).toBe(JSON.stringify(before.get(name)!.spec!.template));
      expect(JSON.stringify(back.spec!.strategy)).toBe(JSON.stringify(before.get(name)!.spec!.strategy));
      expect(back.metadata!.annotations![Annotation.strategy]).toBeUndefined();
    }
    await ready.stop();
  }, 240_000);
});
