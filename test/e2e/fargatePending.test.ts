// Pods that stay Pending on Fargate, end to end with the real webhook and watcher processes: the move fails
// once `fargate.pending_timeout` has passed, and says why in the words of whoever keeps the pod waiting:
// the (emulated) EKS fargate-scheduler when the account's Fargate quota is used up, the scheduler when no
// Fargate profile selects the pods (and the Fargate node selector keeps them off EC2).
import { randomBytes } from "node:crypto";
import { EventsV1Api } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, instanceIdOf } from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { fargateProfiles } from "../../harness/fargate/profile-store.ts";
import { quotaMessage } from "../../harness/fargate/quota.ts";
import { clients, podsOf, waitForAnnotations, waitForAvailable } from "../support/deployments.ts";
import { useSlackReceiver } from "../support/slackReceiver.ts";
import { useStack } from "../support/suiteStack.ts";
import { optedInApp } from "../support/workloads.ts";

const kc = testKubeConfig();
const { apps } = clients(kc);
const ns = useNamespace("e2e-pending");
const suffix = randomBytes(3).toString("hex");
const slack = useSlackReceiver();
const suite = useStack(
  kc,
  ns,
  () => ({
    FARGATE_PENDING_TIMEOUT: "5s",
    ROLLOUT_TIMEOUT: "90s",
    SLACK_WEBHOOK_URL: slack.url,
    RECOVERY_ENABLED: "false",
  }),
  // Fargate pods select Fargate nodes: a pod no profile takes waits instead of landing on EC2
  { FARGATE_NODE_SELECTOR: "eks.amazonaws.com/compute-type=fargate" },
);
const profile = () => ({
  name: `fp-${ns.name}`,
  selectors: [{ namespace: ns.name, labels: { "compute-type": "fargate" } }],
});

async function interrupt(name: string, replicas: number): Promise<void> {
  const [node] = await addSpotNodes(kc, 1, { nodegroup: `${name}-${suffix}`, zone: "eu-west-1a" });
  suite.nodes.push(node!);
  const app = optedInApp(name, replicas, { "kubernetes.io/hostname": node!.metadata!.name! });
  await apps.createNamespacedDeployment({ namespace: ns.name, body: app });
  await waitForAvailable(kc, ns.name, name, replicas);
  await suite.stack.send(
    buildEventBridgeEvent({
      kind: "spot-interruption",
      instanceId: instanceIdOf(node!),
      region: "eu-west-1",
    }),
  );
}

const failed = (a: Record<string, string>) => a[Annotation.rollout]?.startsWith("failed: ") === true;

async function eventOf(name: string, reason: string) {
  return waitFor(`${name}'s ${reason} Event`, async () =>
    (await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns.name })).items.find(
      (e) => e.regarding?.name === name && e.reason === reason,
    ),
  );
}

describe("pods Pending on Fargate", () => {
  it("fail the move with the fargate-scheduler's reason when the account's Fargate pod quota is used up", async () => {
    // room for one Fargate pod: the move's first pod gets it, the second waits
    await fargateProfiles(kc).add({ ...profile(), podQuota: 1 });
    await interrupt("web", 2);

    const d = await waitForAnnotations(kc, ns.name, "web", "the move to fail", failed);
    const rollout = d.metadata!.annotations![Annotation.rollout]!;
    const waiting = (await podsOf(kc, ns.name, "web")).find(
      (p) => p.spec?.schedulerName === "fargate-scheduler",
    );
    expect(waiting?.status?.phase).toBe("Pending");
    expect(rollout).toMatch(
      new RegExp(
        `^failed: pod ${waiting!.metadata!.name} Pending for \\d+s: FailedScheduling \\(fargate-scheduler\\): `,
      ),
    );
    expect(rollout).toContain(quotaMessage);
    expect(d.metadata!.annotations![Annotation.compute]).toBe("fargate");

    const event = await eventOf("web", "PendingOnFargate");
    expect(event.type).toBe("Warning");
    expect(event.note).toBe(`Move to Fargate failed: ${rollout.slice("failed: ".length)}`);
    const alert = await waitFor("the Slack alert", () =>
      slack.messages.find((m) => m.text.includes(`Moving ${ns.name}/web to Fargate failed`)),
    );
    expect(alert.text).toContain(quotaMessage);
  });

  it("fail the move with the scheduler's reason when no Fargate profile selects the pods", async () => {
    await fargateProfiles(kc).remove(profile().name);
    await interrupt("orphan", 1);

    const d = await waitForAnnotations(kc, ns.name, "orphan", "the move to fail", failed);
    expect(d.metadata!.annotations![Annotation.rollout]).toMatch(
      /^failed: pod orphan-\S+ Pending for \d+s: Unschedulable: 0\/\d+ nodes are available: .*node\(s\) didn't match Pod's node affinity\/selector/,
    );
    expect((await eventOf("orphan", "PendingOnFargate")).note).toMatch(
      /^Move to Fargate failed: pod orphan-/,
    );
  });
});
