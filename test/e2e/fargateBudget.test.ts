// A Fargate budget end to end, with the real webhook and watcher processes: an interruption whose
// Deployments need more than the budget moves them to Fargate in priority order (the priority annotation,
// then the pods' PriorityClass, then the name) and reports the rest: a Warning Event on each, one Slack
// message naming them, a metric, and the budget's gauges.
import { randomBytes } from "node:crypto";
import { EventsV1Api, SchedulingV1Api, type V1Deployment, type V1Node } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { ignoreNotFound } from "../../harness/cluster/api-errors.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, instanceIdOf } from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { metricValue } from "../../harness/stack/stack.ts";
import { clients, healthyOn, podsOf, waitForAnnotations, waitForAvailable } from "../support/deployments.ts";
import { useSlackReceiver } from "../support/slackReceiver.ts";
import { useStack } from "../support/suiteStack.ts";
import { optedInApp } from "../support/workloads.ts";

const kc = testKubeConfig();
const { apps, core } = clients(kc);
const scheduling = kc.makeApiClient(SchedulingV1Api);
const ns = useNamespace("e2e-budget");
const suffix = randomBytes(3).toString("hex");
const slack = useSlackReceiver();
// Each app's pod (100m CPU, 64Mi) gets Fargate's smallest size, 0.25 vCPU: 1 vCPU holds four of them.
const suite = useStack(kc, ns, () => ({
  FARGATE_MAX_VCPU: "1",
  SLACK_WEBHOOK_URL: slack.url,
  RECOVERY_ENABLED: "false",
}));
const classes = { critical: `critical-${suffix}`, low: `low-${suffix}` };

beforeAll(async () => {
  await scheduling.createPriorityClass({ body: { metadata: { name: classes.critical }, value: 1000 } });
  await scheduling.createPriorityClass({ body: { metadata: { name: classes.low }, value: 10 } });
});
afterAll(async () => {
  for (const name of Object.values(classes)) {
    await ignoreNotFound(() => scheduling.deletePriorityClass({ name }));
  }
});

function app(node: V1Node, name: string, priority?: string, priorityClassName?: string): V1Deployment {
  const d = optedInApp(name, 1, { "kubernetes.io/hostname": node.metadata!.name! });
  if (priority !== undefined) d.metadata!.annotations![Annotation.priority] = priority;
  if (priorityClassName !== undefined) d.spec!.template.spec!.priorityClassName = priorityClassName;
  return d;
}

describe("a Fargate budget", () => {
  it("moves an interruption's Deployments in priority order and reports those that do not fit", async () => {
    const [node] = await addSpotNodes(kc, 1, { nodegroup: `budget-${suffix}`, zone: "eu-west-1a" });
    suite.nodes.push(node!);
    // by name alone alpha would go first; by priority it is left with echo
    const fleet = [
      app(node!, "alpha"),
      app(node!, "bravo", undefined, classes.low),
      app(node!, "charlie", undefined, classes.critical),
      app(node!, "delta", "5"),
      app(node!, "echo", "-1", classes.critical),
      app(node!, "foxtrot", "10"),
    ];
    for (const d of fleet) await apps.createNamespacedDeployment({ namespace: ns.name, body: d });
    for (const d of fleet) await waitForAvailable(kc, ns.name, d.metadata!.name!, 1);

    await suite.stack.send(
      buildEventBridgeEvent({
        kind: "spot-interruption",
        instanceId: instanceIdOf(node!),
        region: "eu-west-1",
      }),
    );

    for (const name of ["foxtrot", "delta", "charlie", "bravo"]) {
      await waitForAnnotations(kc, ns.name, name, "healthy on Fargate", healthyOn("fargate"));
      for (const pod of await podsOf(kc, ns.name, name)) {
        const on = await core.readNode({ name: pod.spec!.nodeName! });
        expect(on.metadata?.labels?.["eks.amazonaws.com/compute-type"]).toBe("fargate");
      }
    }
    const events = kc.makeApiClient(EventsV1Api);
    for (const name of ["alpha", "echo"]) {
      const warning = await waitFor(`${name}'s FargateBudgetExceeded Event`, async () =>
        (await events.listNamespacedEvent({ namespace: ns.name })).items.find(
          (e) => e.regarding?.name === name && e.reason === "FargateBudgetExceeded",
        ),
      );
      expect(warning.type).toBe("Warning");
      expect(warning.note).toBe(
        "Not moved to Fargate (over the Fargate budget: needs 0.25 vCPU, 0 of 1 left (fargate.max_vcpu)); " +
          `EC2 Spot Instance Interruption Warning for node ${node!.metadata!.name} (${instanceIdOf(node!)}): ` +
          "left on its node (fargate.fallback=none)",
      );
      const left = await apps.readNamespacedDeployment({ namespace: ns.name, name });
      expect(left.metadata?.annotations?.[Annotation.compute]).toBeUndefined();
      expect((await podsOf(kc, ns.name, name)).map((p) => p.spec?.nodeName)).toEqual([node!.metadata!.name]);
    }

    const alerts = await waitFor("the interruption's Slack message", () =>
      slack.messages.filter((m) => m.text.includes("Spot interruption warning")),
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.text).toContain("4 Deployments moving to Fargate, 2 skipped");
    const text = JSON.stringify(alerts[0]);
    for (const name of ["alpha", "echo"]) {
      expect(text).toContain(
        `${ns.name}/${name}\`: over the Fargate budget: needs 0.25 vCPU, 0 of 1 left (fargate.max_vcpu)`,
      );
    }
    expect(text).toContain("Fargate budget: 1 of 1 vCPU, 4 pods (no limit)");

    const metrics = await suite.stack.watcherMetrics();
    expect(metricValue(metrics, "spot_orchestrator_fargate_budget_exceeded_total")).toBe(2);
    expect(metricValue(metrics, "spot_orchestrator_fargate_budget_used", { resource: "vcpu" })).toBe(1);
    expect(metricValue(metrics, "spot_orchestrator_fargate_budget_limit", { resource: "vcpu" })).toBe(1);
    expect(metrics).not.toContain('spot_orchestrator_fargate_budget_limit{resource="pods"}');
    expect(metricValue(metrics, "spot_orchestrator_deployments_skipped_total", { why: "over-budget" })).toBe(
      2,
    );
  });
});
