// A graceful hand-over between two watcher processes, end to end: the leader is stopped as Kubernetes stops a
// pod (SIGTERM) and an interruption is sent right after. The leader lets its last poll finish, releases what
// it got and frees the Lease; the standby takes over and moves the Deployment within seconds of the event
// (an aborted long poll would have hidden the event for a visibility timeout). Times are those the watchers log.
import { randomBytes } from "node:crypto";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, instanceIdOf } from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { readLog } from "../../harness/stack/logs.ts";
import { clients, healthyOn, waitForAnnotations, waitForAvailable } from "../support/deployments.ts";
import { useStack } from "../support/suiteStack.ts";
import { optedInApp } from "../support/workloads.ts";

const kc = testKubeConfig();
const ns = useNamespace("e2e-handover");
const suffix = randomBytes(3).toString("hex");
const suite = useStack(kc, ns, { RECOVERY_ENABLED: "false" });
const holder = async () =>
  (
    await kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace: ns.name, name: "spot-fargate-orchestrator" })
  ).spec?.holderIdentity;

describe("a leader stopped gracefully", () => {
  it("hands an interruption sent right after SIGTERM to the standby within seconds", async () => {
    const { stack } = suite;
    const [node] = await addSpotNodes(kc, 1, { nodegroup: `handover-${suffix}` });
    suite.nodes.push(node!);
    await clients(kc).apps.createNamespacedDeployment({
      namespace: ns.name,
      body: optedInApp("web", 1, { "eks.amazonaws.com/nodegroup": `handover-${suffix}` }),
    });
    await waitForAvailable(kc, ns.name, "web", 1);
    await waitFor("the first watcher to lead", async () => (await holder()) === "watcher");
    const standby = await stack.startWatcher("standby");

    const leader = stack.watcher!;
    leader.child.kill("SIGTERM");
    const event = buildEventBridgeEvent({
      kind: "spot-interruption",
      instanceId: instanceIdOf(node!),
      region: "eu-west-1",
    });
    const sentAt = Date.now();
    await stack.send(event);
    expect(await leader.exited).toBe(0);
    expect(readLog(leader.logFile).some((l) => l.msg === "leader lease released")).toBe(true);

    await waitForAnnotations(kc, ns.name, "web", "healthy on Fargate via the standby", healthyOn("fargate"));
    const handled = readLog(standby.process.logFile).find(
      (l) => l.msg === "handling EC2 event" && l["eventId"] === event.id,
    );
    expect(handled).toBeDefined();
    // the standby's retry period (2 s) and the old leader's last poll (2 s here) bound it; an aborted poll
    // would have hidden the event for its 10 s visibility
    expect(Date.parse(String(handled!["time"])) - sentAt).toBeLessThan(6_000);
    expect(
      readLog(leader.logFile).some((l) => l["eventId"] === event.id && l.msg === "handling EC2 event"),
    ).toBe(false);
  });
});
