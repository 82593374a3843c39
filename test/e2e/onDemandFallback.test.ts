// The on-demand fallback end to end, with the real webhook and watcher processes: with `fargate.fallback =
// on-demand`, an interruption moves what does not fit the Fargate budget, and a Deployment Fargate cannot
// run, to on-demand nodes; once spot has room again, the recovery loop brings them back to spot with their
// placement restored exactly.
import { randomBytes } from "node:crypto";
import { EventsV1Api, type V1Deployment, type V1Node, type V1PodTemplateSpec } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addOnDemandNodes, addSpotNodes, instanceIdOf, terminateNode } from "../../harness/cluster/nodes.ts";
import { clients, healthyOn, podsOf, waitForAnnotations, waitForAvailable } from "../support/deployments.ts";
import { useStack } from "../support/suiteStack.ts";
import { optedInApp } from "../support/workloads.ts";

const kc = testKubeConfig();
const { apps, core } = clients(kc);
const ns = useNamespace("e2e-fallback");
const suffix = randomBytes(3).toString("hex");
const spotGroup = `spot-${suffix}`;
const onDemandGroup = `od-${suffix}`;
const suite = useStack(
  kc,
  ns,
  {
    FARGATE_MAX_PODS: "2",
    FARGATE_FALLBACK: "on-demand",
    RECOVERY_INTERVAL: "500ms",
    RECOVERY_COOLDOWN: "3s",
    RECOVERY_TIMEOUT: "60s",
    ROLLOUT_TIMEOUT: "60s",
  },
  {
    // this suite's own on-demand nodes (the shared cluster has others): the selector is configurable
    ON_DEMAND_NODE_SELECTOR: `eks.amazonaws.com/capacityType=ON_DEMAND,eks.amazonaws.com/nodegroup=${onDemandGroup}`,
    ON_DEMAND_TOLERATIONS: "dedicated=on-demand:NoSchedule",
  },
);

/** Pinned to spot by its node group and a required node affinity, spread over nodes, with a toleration. */
function spotApp(name: string, replicas: number, annotations: Record<string, string> = {}): V1Deployment {
  const d = optedInApp(
    name,
    replicas,
    { "eks.amazonaws.com/nodegroup": spotGroup },
    { spreadOverNodes: true },
  );
  Object.assign(d.metadata!.annotations!, annotations);
  const spec = d.spec!.template.spec!;
  spec.tolerations = [{ key: "spot", operator: "Exists", effect: "NoSchedule" }];
  spec.affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: "eks.amazonaws.com/capacityType", operator: "In", values: ["SPOT"] }] },
        ],
      },
    },
  };
  return d;
}

const nodeName = (n: V1Node) => n.metadata?.name ?? "";

async function capacityOf(name: string): Promise<string[]> {
  const pods = await podsOf(kc, ns.name, name);
  return Promise.all(
    pods.map(async (p) => {
      const node = await core.readNode({ name: p.spec!.nodeName! });
      const labels = node.metadata?.labels ?? {};
      return labels["eks.amazonaws.com/compute-type"] === "fargate"
        ? "fargate"
        : `${labels["eks.amazonaws.com/capacityType"]}/${labels["eks.amazonaws.com/nodegroup"]}`;
    }),
  );
}

describe("the on-demand fallback", () => {
  it("takes what is over the budget and what Fargate cannot run to on-demand nodes, and recovery brings it back", async () => {
    // one spot node, so its interruption concerns all three (spread over nodes is satisfied by one)
    const spot = await addSpotNodes(kc, 1, { nodegroup: spotGroup, zone: "eu-west-1b" });
    const onDemand = await addOnDemandNodes(kc, 1, {
      nodegroup: onDemandGroup,
      zone: "eu-west-1b",
      taints: [{ key: "dedicated", value: "on-demand", effect: "NoSchedule" }],
    });
    suite.nodes.push(...spot, ...onDemand);
    // first fits the budget of 2 pods; second does not; agent cannot run on Fargate (a hostPort)
    const agent = spotApp("agent", 1);
    agent.spec!.template.spec!.containers[0]!.ports = [{ containerPort: 9100, hostPort: 9100 }];
    const fleet = [spotApp("first", 2, { [Annotation.priority]: "10" }), spotApp("second", 2), agent];
    const original = new Map<string, V1PodTemplateSpec>();
    for (const d of fleet) await apps.createNamespacedDeployment({ namespace: ns.name, body: d });
    for (const d of fleet) {
      const created = await waitForAvailable(kc, ns.name, d.metadata!.name!, d.spec!.replicas!);
      original.set(d.metadata!.name!, created.spec!.template);
    }
    const [x] = spot;

    await suite.stack.send(
      buildEventBridgeEvent({ kind: "spot-interruption", instanceId: instanceIdOf(x!), region: "eu-west-1" }),
    );
    for (const [name, compute] of [
      ["first", "fargate"],
      ["second", "on-demand"],
      ["agent", "on-demand"],
    ]) {
      await waitForAnnotations(
        kc,
        ns.name,
        name!,
        `moved to ${compute}`,
        (a) => a[Annotation.compute] === compute,
      );
    }
    // the instance goes (and spot is gone until the test brings some back)
    await terminateNode(kc, nodeName(x!));

    await waitForAnnotations(kc, ns.name, "first", "healthy on Fargate", healthyOn("fargate"));
    expect(await capacityOf("first")).toEqual(["fargate", "fargate"]);
    for (const name of ["second", "agent"]) {
      const moved = await waitForAnnotations(
        kc,
        ns.name,
        name,
        "healthy on on-demand nodes",
        (a) => a[Annotation.compute] === "on-demand" && a[Annotation.rollout] === "healthy",
      );
      expect(moved.metadata?.annotations?.[Annotation.reason]).toBe("spot-interruption");
      expect(moved.metadata?.labels?.["spot-orchestrator.io/compute"]).toBe("on-demand");
      const template = moved.spec!.template;
      expect(template.metadata?.labels?.["compute-type"]).toBe("on-demand");
      expect(template.spec?.nodeSelector).toEqual({
        "eks.amazonaws.com/capacityType": "ON_DEMAND",
        "eks.amazonaws.com/nodegroup": onDemandGroup,
      });
      expect(template.spec?.affinity?.nodeAffinity).toBeUndefined();
      expect(template.spec?.tolerations).toEqual([
        { key: "spot", operator: "Exists", effect: "NoSchedule" },
        { key: "dedicated", operator: "Equal", value: "on-demand", effect: "NoSchedule" },
      ]);
      // topology spread stays: with the default nodeAffinityPolicy it counts only the nodes it may use
      expect(template.spec?.topologySpreadConstraints).toEqual(
        original.get(name)!.spec!.topologySpreadConstraints,
      );
      const replicas = name === "second" ? 2 : 1;
      expect(await capacityOf(name)).toEqual(Array(replicas).fill(`ON_DEMAND/${onDemandGroup}`));
    }
    const reasons = (name: string) =>
      kc
        .makeApiClient(EventsV1Api)
        .listNamespacedEvent({ namespace: ns.name })
        .then((list) => list.items.filter((e) => e.regarding?.name === name).map((e) => e.reason));
    expect(await reasons("second")).toEqual(
      expect.arrayContaining(["FargateBudgetExceeded", "MigratingToOnDemand", "MigratedToOnDemand"]),
    );
    expect(await reasons("agent")).toEqual(
      expect.arrayContaining(["FargateIncompatible", "MigratingToOnDemand", "MigratedToOnDemand"]),
    );

    // spot capacity comes back; recovery brings all three home
    suite.nodes.push(...(await addSpotNodes(kc, 1, { nodegroup: spotGroup, zone: "eu-west-1c" })));
    for (const d of fleet) {
      const name = d.metadata!.name!;
      const back = await waitForAnnotations(
        kc,
        ns.name,
        name,
        "recovered to spot",
        (a) => healthyOn("spot")(a) && a[Annotation.reason] === "recovery",
      );
      expect(JSON.stringify(back.spec!.template)).toBe(JSON.stringify(original.get(name)));
      const a = back.metadata!.annotations!;
      expect(a[Annotation.spotPlacement]).toBeUndefined();
      expect(a[Annotation.recoveringFrom]).toBeUndefined();
      expect(a[Annotation.failedRecoveryAttempts]).toBeUndefined();
      for (const capacity of await capacityOf(name)) expect(capacity).toBe(`SPOT/${spotGroup}`);
      expect(await reasons(name)).toEqual(expect.arrayContaining(["RecoveringToSpot", "RecoveredToSpot"]));
    }
  });
});
