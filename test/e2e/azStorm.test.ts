// An availability zone's reclaim through the whole product: 30 spot nodes over three zones, 150 opted-in
// Deployments and some that are not, and one burst of spot interruption warnings for one zone's ten nodes,
// sent with SendMessageBatch to the stack's SQS emulator as EventBridge delivers an AZ event. The watcher runs
// with two flips at a time, so the moves wait their turn: they must start earliest deadline first, then
// highest priority, whatever order the warnings arrived in (here the later deadlines arrive first). Fargate
// starts pods at once: this is about the intake, not about Ready.
import { randomBytes } from "node:crypto";
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import type { V1Deployment, V1Node } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { mapLimit } from "../../core/mapLimit.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { addSpotNodes, instanceIdOf } from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { waitForEmptyQueue } from "../../harness/sqs/emptyQueue.ts";
import { metricValue } from "../../harness/stack/stack.ts";
import { watchComputeChanges } from "../support/computeChanges.ts";
import { clients } from "../support/deployments.ts";
import { useStack } from "../support/suiteStack.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { optedInApp } from "../support/workloads.ts";

const kc = testKubeConfig();
const { apps } = clients(kc);
const ns = useNamespace("e2e-az-storm");
/** Flips at once: few, so that most moves wait for a slot and their order shows. */
const CONCURRENCY = 2;
const suite = useStack(kc, ns, { MIGRATION_CONCURRENCY: String(CONCURRENCY), RECOVERY_ENABLED: "false" });

const ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
const NODES_PER_ZONE = 10;
const APPS_PER_NODE = 5;
/** Of each node's apps, these get `priority=100`; their names sort last, so an order by name fails. */
const HIGH = new Set([3, 4]);
const pool = `storm-${randomBytes(3).toString("hex")}`;

interface App {
  name: string;
  node: V1Node;
  optedIn: boolean;
  priority: number;
}

const nodeName = (n: V1Node) => n.metadata?.name ?? "";
let nodesByZone: V1Node[][] = [];
let appList: App[] = [];

beforeAll(async () => {
  nodesByZone = await Promise.all(
    ZONES.map((zone) => addSpotNodes(kc, NODES_PER_ZONE, { nodegroup: pool, zone, pods: 20 })),
  );
  suite.nodes.push(...nodesByZone.flat());
  appList = plannedApps(nodesByZone);
  await mapLimit(appList, 10, (app) =>
    apps.createNamespacedDeployment({ namespace: ns.name, body: manifest(app) }),
  );
  await waitFor(
    `${appList.length} Deployments available`,
    async () => {
      const list = await apps.listNamespacedDeployment({ namespace: ns.name });
      return list.items.filter((d) => d.status?.availableReplicas === 1).length === appList.length;
    },
    { timeoutMs: 120_000, intervalMs: 1_000 },
  );
});

/** Five opted-in apps on every node, and bystanders (not opted in): one on each reclaimed node, five in each other zone. */
function plannedApps(zones: V1Node[][]): App[] {
  const planned: App[] = [];
  zones.forEach((nodes, z) =>
    nodes.forEach((node, n) => {
      for (let i = 0; i < APPS_PER_NODE; i++) {
        const name = `app-${"abc"[z]}-${String(n).padStart(2, "0")}-${i}`;
        planned.push({ name, node, optedIn: true, priority: HIGH.has(i) ? 100 : 0 });
      }
      if (z === 0 || n < 5)
        planned.push({ name: `bystander-${"abc"[z]}-${n}`, node, optedIn: false, priority: 0 });
    }),
  );
  return planned;
}

function manifest(app: App): V1Deployment {
  const d = optedInApp(app.name, 1, { "kubernetes.io/hostname": nodeName(app.node) });
  if (!app.optedIn) delete d.metadata!.annotations;
  else if (app.priority !== 0) d.metadata!.annotations![Annotation.priority] = String(app.priority);
  return d;
}

/** How many of `order` that `behind` says should come later are ahead of the last one `ahead` says should lead. */
function overtaking(
  order: string[],
  ahead: (name: string) => boolean,
  behind: (name: string) => boolean,
): number {
  const last = order.findLastIndex(ahead);
  return order.slice(0, last).filter(behind).length;
}

describe("an availability zone's reclaim", () => {
  it("moves every opted-in Deployment of the zone's nodes once, earliest deadline then highest priority first, and nothing else", async () => {
    const reclaimed = nodesByZone[0]!;
    // the first five nodes go in 115 s, the last five in 100 s; the later deadlines are sent first
    const now = Date.now();
    const deadlineOf = new Map(
      reclaimed.map((n, i) => [nodeName(n), new Date(now + (i < 5 ? 115_000 : 100_000))]),
    );
    const soon = new Set(reclaimed.slice(5).map(nodeName));
    const targets = appList.filter((a) => a.optedIn && deadlineOf.has(nodeName(a.node)));
    const others = appList.filter((a) => !targets.includes(a));
    expect(targets).toHaveLength(NODES_PER_ZONE * APPS_PER_NODE);

    const before = new Map(
      (await apps.listNamespacedDeployment({ namespace: ns.name })).items.map((d) => [d.metadata!.name!, d]),
    );
    const watched = await watchComputeChanges(kc, ns.name);
    const { stack } = suite;
    try {
      const { Failed = [] } = await stack.sqsClient.send(
        new SendMessageBatchCommand({
          QueueUrl: stack.queueUrl,
          Entries: reclaimed.map((node, i) => ({
            Id: `w${i}`,
            MessageBody: JSON.stringify(
              buildEventBridgeEvent({
                kind: "spot-interruption",
                instanceId: instanceIdOf(node),
                region: "eu-west-1",
                deadline: deadlineOf.get(nodeName(node))!,
              }),
            ),
          })),
        }),
      );
      expect(Failed).toEqual([]);
      const flipped = () =>
        new Set(watched.changes.filter((c) => c.compute === "fargate").map((c) => c.name));
      await waitFor(`${targets.length} Deployments with compute=fargate`, () => {
        watched.check();
        return flipped().size >= targets.length;
      });
      await waitForEmptyQueue(stack.sqsClient, stack.queueUrl);
      watched.check();
    } finally {
      watched.stop();
    }

    // each target: its compute changed once, to fargate, for this interruption of its own node
    const changesOf = Map.groupBy(watched.changes, (c) => c.name);
    for (const app of targets) {
      const changes = changesOf.get(app.name) ?? [];
      expect(changes, app.name).toHaveLength(1);
      expect(changes[0], app.name).toMatchObject({
        compute: "fargate",
        reason: "spot-interruption",
        interruptedNode: `${nodeName(app.node)} (${instanceIdOf(app.node)})`,
      });
      expect(changes[0]!.changedAt, app.name).toMatch(/^\d{4}-\d\d-\d\dT/);
    }

    // nothing else: the other zones' opted-in Deployments, the zone's bystanders and the others unchanged
    const after = new Map(
      (await apps.listNamespacedDeployment({ namespace: ns.name })).items.map((d) => [d.metadata!.name!, d]),
    );
    const touched = others.filter(
      (a) => after.get(a.name)?.metadata?.resourceVersion !== before.get(a.name)?.metadata?.resourceVersion,
    );
    expect(touched.map((a) => a.name)).toEqual([]);
    expect(others.filter((a) => changesOf.has(a.name)).map((a) => a.name)).toEqual([]);

    // the order the flips were stored in: the first CONCURRENCY moves start before the rest are queued; a
    // slow write lets the other slot pass it a couple of times; handled in arrival order, 25 would
    const order = watched.changes.map((c) => c.name);
    const app = new Map(targets.map((a) => [a.name, a]));
    const isSoon = (name: string) => soon.has(nodeName(app.get(name)!.node));
    const slack = CONCURRENCY + 2;
    expect(
      overtaking(order, isSoon, (name) => !isSoon(name)),
      `flip order: ${order.join(" ")}`,
    ).toBeLessThanOrEqual(slack);
    for (const group of [order.filter(isSoon), order.filter((name) => !isSoon(name))]) {
      const high = (name: string) => app.get(name)!.priority > 0;
      expect(
        overtaking(group, high, (name) => !high(name)),
        `flip order: ${group.join(" ")}`,
      ).toBeLessThanOrEqual(slack);
    }

    const metrics = await stack.watcherMetrics();
    expect(metricValue(metrics, "spot_orchestrator_deployments_flipped_total", { compute: "fargate" })).toBe(
      targets.length,
    );
    expect(metricValue(metrics, "spot_orchestrator_events_received_total", { result: "handled" })).toBe(
      reclaimed.length,
    );
  });
});
