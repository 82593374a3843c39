import { AppsV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testKubeConfig } from "../../support/testCluster.ts";
import { startupDelayAnnotation } from "../../../harness/cluster/kwok-stages.ts";
import { useNamespace } from "../../support/testNamespace.ts";
import { addSpotNodes, removeNode } from "../../../harness/cluster/nodes.ts";
import { waitFor } from "../../../harness/cluster/wait.ts";
import { fargateProfiles } from "../../../harness/fargate/profile-store.ts";
import { drawStartupMs, startupAnnotations, type StartupTime } from "../../../harness/fargate/startup.ts";

describe("drawStartupMs", () => {
  const startup: StartupTime = { meanMs: 45_000, jitterMs: 10_000 };

  it.each([
    { random: 0, expected: 35_000 },
    { random: 0.5, expected: 45_000 },
    { random: 0.999_999, expected: 55_000 },
  ])("random $random -> $expected ms", ({ random, expected }) => {
    expect(drawStartupMs(startup, () => random)).toBe(expected);
  });

  it("stays within mean ± jitter, and never below 0", () => {
    for (let i = 0; i < 1_000; i++) {
      const ms = drawStartupMs(startup);
      expect(ms).toBeGreaterThanOrEqual(35_000);
      expect(ms).toBeLessThanOrEqual(55_000);
    }
    expect(drawStartupMs({ meanMs: 1_000, jitterMs: 5_000 }, () => 0)).toBe(0);
  });

  it("annotates only a wait", () => {
    expect(startupAnnotations(0)).toEqual({});
    expect(startupAnnotations(1_234)).toEqual({ [startupDelayAnnotation]: "1234ms" });
  });
});

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const ns = useNamespace("startup");
const profileName = `startup-test-${process.pid}`;
const fargateLabels = { "compute-type": "fargate-startup" };
const startup: StartupTime = { meanMs: 6_000, jitterMs: 2_000 };
/** Conditions carry whole seconds; kwok and the apiserver take a moment more. */
const slackMs = 2_000;

/** When the pod's condition of that type last changed (epoch ms; whole seconds, as the API keeps them). */
function changedAt(pod: V1Pod, type: string): number {
  const condition = pod.status?.conditions?.find((c) => c.type === type && c.status === "True");
  if (!condition?.lastTransitionTime) throw new Error(`${pod.metadata?.name} has no ${type} condition`);
  return new Date(condition.lastTransitionTime).getTime();
}

const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");

async function readyPod(name: string, timeoutMs = 30_000): Promise<V1Pod> {
  return waitFor(
    `pod ${name} Ready`,
    async () => {
      const pod = await core.readNamespacedPod({ namespace: ns.name, name });
      return isReady(pod) && pod;
    },
    { timeoutMs },
  );
}

const pod = (name: string, labels: Record<string, string>, spec: Partial<V1Pod["spec"]> = {}): V1Pod => ({
  metadata: { name, labels },
  spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }], ...spec },
});

describe("start-up time", () => {
  let nodes: string[] = [];

  beforeAll(async () => {
    await fargateProfiles(kc).add({
      name: profileName,
      selectors: [{ namespace: ns.name, labels: fargateLabels }],
      startup,
    });
    const added = await addSpotNodes(kc, 1, { nodegroup: `startup-${process.pid}` });
    nodes = added.map((n) => n.metadata?.name ?? "");
  });

  afterAll(async () => {
    await fargateProfiles(kc).remove(profileName);
    for (const node of nodes) await removeNode(kc, node);
  });

  it("binds a Fargate pod at once and makes it Ready after its profile's start-up time", async () => {
    const names = ["fg-1", "fg-2", "fg-3"];
    await Promise.all(
      names.map((name) => core.createNamespacedPod({ namespace: ns.name, body: pod(name, fargateLabels) })),
    );

    // while it starts, the pod is reported as a kubelet reports one pulling its images
    const starting = await waitFor("fg-1 bound and starting", async () => {
      const p = await core.readNamespacedPod({ namespace: ns.name, name: "fg-1" });
      return p.status?.podIP !== undefined && p;
    });
    expect(starting.status).toMatchObject({ phase: "Pending", hostIP: expect.any(String) });
    expect(starting.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("ContainerCreating");
    const byType = Object.fromEntries((starting.status?.conditions ?? []).map((c) => [c.type, c]));
    expect(byType).toMatchObject({
      PodScheduled: { status: "True" },
      Initialized: { status: "True" },
      Ready: { status: "False", reason: "ContainersNotReady" },
      ContainersReady: { status: "False", reason: "ContainersNotReady" },
    });

    for (const name of names) {
      const ready = await readyPod(name);
      const created = ready.metadata?.creationTimestamp?.getTime() ?? 0;
      const bound = changedAt(ready, "PodScheduled");
      const startupMs = changedAt(ready, "Ready") - bound;
      expect(bound - created, `${name} bound at once`).toBeLessThanOrEqual(1_000);
      expect(startupMs, `${name} bound → Ready`).toBeGreaterThanOrEqual(startup.meanMs - startup.jitterMs);
      expect(startupMs, `${name} bound → Ready`).toBeLessThanOrEqual(
        startup.meanMs + startup.jitterMs + slackMs,
      );
      expect(ready.metadata?.annotations?.[startupDelayAnnotation]).toMatch(/^\d+ms$/);
    }
  });

  it("keeps EC2 pods without the annotation immediate, and gives a template's annotation to its pods", async () => {
    const onSpot = { "kubernetes.io/hostname": nodes[0]! };
    await core.createNamespacedPod({ namespace: ns.name, body: pod("ec2", {}, { nodeSelector: onSpot }) });
    const immediate = await readyPod("ec2", 10_000);
    expect(changedAt(immediate, "Ready") - changedAt(immediate, "PodScheduled")).toBeLessThanOrEqual(1_000);

    const labels = { app: "slow-ec2" };
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace: ns.name,
      body: {
        metadata: { name: "slow-ec2" },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels, annotations: { [startupDelayAnnotation]: "2s" } },
            spec: pod("", labels, { nodeSelector: onSpot }).spec,
          },
        },
      },
    });
    const [name] = await waitFor("the Deployment's pod", async () => {
      const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: "app=slow-ec2" });
      return pods.items.length > 0 && pods.items.map((p) => p.metadata?.name ?? "");
    });
    const ready = await readyPod(name!);
    const startupMs = changedAt(ready, "Ready") - changedAt(ready, "PodScheduled");
    expect(startupMs).toBeGreaterThanOrEqual(2_000);
    expect(startupMs).toBeLessThanOrEqual(2_000 + slackMs);
  });
});
