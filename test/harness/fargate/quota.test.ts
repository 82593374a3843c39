import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testKubeConfig } from "../../support/testCluster.ts";
import { useNamespace } from "../../support/testNamespace.ts";
import { fargateComputeLabel } from "../../../harness/cluster/nodes.ts";
import { waitFor } from "../../../harness/cluster/wait.ts";
import { fargateProfiles } from "../../../harness/fargate/profile-store.ts";
import {
  exceededLimit,
  fargateScheduler,
  fargateVcpu,
  vcpuQuotaMessage,
} from "../../../harness/fargate/quota.ts";

describe("exceededLimit", () => {
  it.each([
    { quota: {}, used: { pods: 100, vcpu: 100 }, vcpu: 4, expected: undefined },
    { quota: { podQuota: 3 }, used: { pods: 2, vcpu: 8 }, vcpu: 4, expected: undefined },
    { quota: { podQuota: 3 }, used: { pods: 3, vcpu: 0 }, vcpu: 0.25, expected: "pods" },
    { quota: { vcpuQuota: 1 }, used: { pods: 2, vcpu: 0.5 }, vcpu: 0.5, expected: undefined },
    { quota: { vcpuQuota: 1 }, used: { pods: 2, vcpu: 0.75 }, vcpu: 0.5, expected: "vcpu" },
    { quota: { podQuota: 1, vcpuQuota: 1 }, used: { pods: 1, vcpu: 1 }, vcpu: 1, expected: "pods" },
  ])(
    "$quota, $used.pods pods and $used.vcpu vCPU used, +$vcpu vCPU -> $expected",
    ({ quota, used, vcpu, expected }) => {
      expect(exceededLimit(quota, used, vcpu)).toBe(expected);
    },
  );

  it("counts a pod at its Fargate size", () => {
    const container = (cpu?: string) => ({
      name: "app",
      image: "app",
      resources: cpu ? { requests: { cpu } } : undefined,
    });
    expect(fargateVcpu({ containers: [container()] })).toBe(0.25);
    expect(fargateVcpu({ containers: [container("300m")] })).toBe(0.5);
    expect(fargateVcpu({ containers: [container("1"), container("1")] })).toBe(2);
    expect(fargateVcpu({ containers: [container("64")] })).toBe(16);
  });
});

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const ns = useNamespace("vcpu-quota");
const profileName = `vcpu-quota-test-${process.pid}`;
const labels = { "compute-type": "fargate-vcpu" };

describe("the account's vCPU quota", () => {
  beforeAll(async () => {
    await fargateProfiles(kc).add({
      name: profileName,
      selectors: [{ namespace: ns.name, labels }],
      vcpuQuota: 1,
    });
  });

  afterAll(async () => {
    await fargateProfiles(kc).remove(profileName);
  });

  it("leaves a pod over the vCPU quota Pending for the fargate-scheduler, with a FailedScheduling Event", async () => {
    // half a vCPU each at Fargate's sizes: two fit in one vCPU, the third does not
    const created: V1Pod[] = [];
    for (const name of ["half-1", "half-2", "half-3"]) {
      const body: V1Pod = {
        metadata: { name, labels },
        spec: {
          containers: [
            { name: "app", image: "registry.k8s.io/pause:3.10", resources: { requests: { cpu: "500m" } } },
          ],
        },
      };
      created.push(await core.createNamespacedPod({ namespace: ns.name, body }));
    }
    const [first, second, over] = created;
    for (const placed of [first, second]) {
      expect(placed!.spec?.nodeSelector?.[fargateComputeLabel]).toBe("fargate");
    }
    expect(over!.spec?.schedulerName).toBe(fargateScheduler);
    expect(over!.spec?.nodeSelector).toBeUndefined();

    const event = await waitFor("the fargate-scheduler's Event", async () => {
      const events = await core.listNamespacedEvent({
        namespace: ns.name,
        fieldSelector: `involvedObject.uid=${over!.metadata?.uid}`,
      });
      return events.items[0];
    });
    expect(event).toMatchObject({
      type: "Warning",
      reason: "FailedScheduling",
      message: vcpuQuotaMessage,
      source: { component: fargateScheduler },
    });
    await waitFor("the pods within the quota Ready", async () => {
      const pods = await Promise.all(
        ["half-1", "half-2"].map((name) => core.readNamespacedPod({ namespace: ns.name, name })),
      );
      return pods.every((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
    });
    const still = await core.readNamespacedPod({ namespace: ns.name, name: "half-3" });
    expect(still.status?.phase).toBe("Pending");
    expect(still.spec?.nodeName).toBeUndefined();
  });
});
