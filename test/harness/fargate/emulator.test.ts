import { AdmissionregistrationV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testKubeConfig } from "../../support/testCluster.ts";
import { useNamespace } from "../../support/testNamespace.ts";
import { fargateComputeLabel } from "../../../harness/cluster/nodes.ts";
import { waitFor } from "../../../harness/cluster/wait.ts";
import { fargateWebhookName, startFargateEmulator } from "../../../harness/fargate/emulator.ts";
import { fargateProfiles } from "../../../harness/fargate/profile-store.ts";
import { fargateScheduler, quotaMessage } from "../../../harness/fargate/quota.ts";

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
const ns = useNamespace("fargate");
const profileName = `emulator-test-${process.pid}`;

const fargatePod = (name: string): V1Pod => ({
  metadata: { name, labels: { "compute-type": "fargate" } },
  spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
});

const fargateNodes = async () =>
  (await core.listNode({ labelSelector: `${fargateComputeLabel}=fargate` })).items.map(
    (n) => n.metadata?.name,
  );

const registeredUrl = async () =>
  (await admission.readMutatingWebhookConfiguration({ name: fargateWebhookName })).webhooks?.[0]?.clientConfig
    .url;

beforeAll(async () => {
  await fargateProfiles(kc).add({
    name: profileName,
    selectors: [{ namespace: ns.name, labels: { "compute-type": "fargate" } }],
  });
});

afterAll(async () => {
  await fargateProfiles(kc).remove(profileName);
});

describe("EKS Fargate emulator", () => {
  it("places a dry-run pod without creating a node", async () => {
    const before = await fargateNodes();
    const dryRun = await core.createNamespacedPod({
      namespace: ns.name,
      body: fargatePod("dry"),
      dryRun: "All",
    });
    expect(dryRun.spec?.nodeSelector?.[fargateComputeLabel]).toBe("fargate");
    // other suites' nodes may go meanwhile; none may come
    expect((await fargateNodes()).filter((name) => !before.includes(name))).toEqual([]);
  });

  it("gives each Fargate pod its own node and deletes the node after the pod", async () => {
    const emulator = await startFargateEmulator(kc, { upkeepIntervalMs: 500, nodeGraceMs: 1_000 });
    try {
      for (const name of ["one", "two"])
        await core.createNamespacedPod({ namespace: ns.name, body: fargatePod(name) });
      const nodes = await waitFor("both pods bound", async () => {
        const pods = await Promise.all(
          ["one", "two"].map((name) => core.readNamespacedPod({ namespace: ns.name, name })),
        );
        const bound = pods.map((p) => p.spec?.nodeName);
        return bound.every(Boolean) ? bound : undefined;
      });
      expect(new Set(nodes).size).toBe(2);

      await core.deleteNamespacedPod({ namespace: ns.name, name: "one", gracePeriodSeconds: 0 });
      await waitFor(
        "the node of the deleted pod to go",
        async () => !(await core.listNode({})).items.some((n) => n.metadata?.name === nodes[0]),
        { timeoutMs: 30_000 },
      );
      expect((await core.listNode({})).items.map((n) => n.metadata?.name)).toContain(nodes[1]);
    } finally {
      await emulator.close();
    }
  });

  it("leaves pods over a profile's pod quota Pending for the fargate-scheduler, with EKS's FailedScheduling Event", async () => {
    const quotaProfile = `${profileName}-quota`;
    const label = { "compute-type": "fargate-quota" };
    await fargateProfiles(kc).add({
      name: quotaProfile,
      selectors: [{ namespace: ns.name, labels: label }],
      podQuota: 1,
    });
    try {
      const body = (name: string): V1Pod => ({ ...fargatePod(name), metadata: { name, labels: label } });
      await Promise.all(
        ["q1", "q2"].map((name) => core.createNamespacedPod({ namespace: ns.name, body: body(name) })),
      );
      const pods = await Promise.all(
        ["q1", "q2"].map((name) => core.readNamespacedPod({ namespace: ns.name, name })),
      );
      const [placed, waiting] =
        pods[0]!.spec?.schedulerName === fargateScheduler ? [pods[1]!, pods[0]!] : pods;
      expect(placed!.spec?.nodeSelector?.[fargateComputeLabel]).toBe("fargate");
      expect(waiting!.spec?.schedulerName).toBe(fargateScheduler);
      expect(waiting!.spec?.nodeSelector).toBeUndefined();
      expect(waiting!.metadata?.labels?.["eks.amazonaws.com/fargate-profile"]).toBe(quotaProfile);
      const event = await waitFor("the fargate-scheduler's Event", async () => {
        const events = await core.listNamespacedEvent({
          namespace: ns.name,
          fieldSelector: `involvedObject.uid=${waiting!.metadata?.uid}`,
        });
        return events.items[0];
      });
      expect(event).toMatchObject({
        type: "Warning",
        reason: "FailedScheduling",
        message: quotaMessage,
        source: { component: fargateScheduler },
      });
      const still = await core.readNamespacedPod({ namespace: ns.name, name: waiting!.metadata!.name! });
      expect(still.status?.phase).toBe("Pending");
      expect(still.spec?.nodeName).toBeUndefined();
    } finally {
      await fargateProfiles(kc).remove(quotaProfile);
    }
  });

  it("hands the webhook to an emulator still running when a newer one stops", async () => {
    const before = await registeredUrl();
    const second = await startFargateEmulator(kc);
    const taken = await registeredUrl();
    expect(taken).not.toBe(before);
    await second.close();

    // this run's emulator, or another run's sharing the cluster
    const handedTo = await registeredUrl();
    expect(handedTo).toBeDefined();
    expect(handedTo).not.toBe(taken);
    await core.createNamespacedPod({ namespace: ns.name, body: fargatePod("after-handover") });
    const pod = await core.readNamespacedPod({ namespace: ns.name, name: "after-handover" });
    expect(pod.spec?.nodeSelector?.[fargateComputeLabel]).toBe("fargate");
  });
});
