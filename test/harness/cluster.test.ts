import { randomBytes } from "node:crypto";
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1Node,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAdmissionServer, type AdmissionRequest } from "../../harness/cluster/admission-server.ts";
import { apiErrorMessage } from "../../harness/cluster/api-errors.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, fargateComputeLabel, terminateNode } from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import {
  applyMutatingWebhookConfiguration,
  deleteMutatingWebhookConfiguration,
} from "../../harness/cluster/webhook-config.ts";
import { fargateProfiles } from "../../harness/fargate/profile-store.ts";
import { fargateProfileLabel } from "../../harness/fargate/profiles.ts";

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const discovery = kc.makeApiClient(DiscoveryV1Api);
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

const ns = useNamespace("smoke");
const nodegroup = `smoke-${randomBytes(3).toString("hex")}`;
let spotNodes: V1Node[] = [];

beforeAll(async () => {
  spotNodes = await addSpotNodes(kc, 2, { nodegroup, zone: "eu-west-1b" });
});

afterAll(async () => {
  await Promise.all(spotNodes.map((node) => terminateNode(kc, node.metadata?.name ?? "")));
});

function deployment(name: string, replicas: number): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { "eks.amazonaws.com/nodegroup": nodegroup },
          containers: [
            { name: "app", image: "registry.k8s.io/pause:3.10", ports: [{ containerPort: 8080 }] },
          ],
        },
      },
    },
  };
}

function pod(name: string, spec: Partial<V1Pod["spec"]> = {}, labels: Record<string, string> = {}): V1Pod {
  return {
    metadata: { name, labels },
    spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }], ...spec },
  };
}

const isReady = (p: V1Pod) =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

describe("control plane with emulated EKS nodes", () => {
  it("rolls a Deployment out to Ready pods on spot nodes", async () => {
    await apps.createNamespacedDeployment({ namespace: ns.name, body: deployment("web", 3) });

    await waitFor("web to be available", async () => {
      const d = await apps.readNamespacedDeployment({ namespace: ns.name, name: "web" });
      return d.status?.availableReplicas === 3;
    });

    const pods = (await core.listNamespacedPod({ namespace: ns.name, labelSelector: "app=web" })).items;
    const spotNames = spotNodes.map((n) => n.metadata?.name);
    expect(pods).toHaveLength(3);
    for (const p of pods) {
      expect(p.status?.phase).toBe("Running");
      expect(isReady(p)).toBe(true);
      expect(p.status?.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(spotNames).toContain(p.spec?.nodeName);
      const node = await core.readNode({ name: p.spec?.nodeName ?? "" });
      expect(node.metadata?.labels?.["eks.amazonaws.com/capacityType"]).toBe("SPOT");
      expect(node.spec?.providerID).toMatch(/^aws:\/\/\/eu-west-1b\/i-[0-9a-f]{17}$/);
    }
  });

  it("gives a Service ready EndpointSlice endpoints for those pods", async () => {
    await core.createNamespacedService({
      namespace: ns.name,
      body: {
        metadata: { name: "web" },
        spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
    const pods = (await core.listNamespacedPod({ namespace: ns.name, labelSelector: "app=web" })).items;
    const podIPs = pods.map((p) => p.status?.podIP).sort();

    const readyAddresses = await waitFor("3 ready endpoints", async () => {
      const slices = await discovery.listNamespacedEndpointSlice({
        namespace: ns.name,
        labelSelector: "kubernetes.io/service-name=web",
      });
      const ready = slices.items
        .flatMap((s) => s.endpoints ?? [])
        .filter((e) => e.conditions?.ready)
        .flatMap((e) => e.addresses);
      return ready.length === 3 ? ready.sort() : undefined;
    });
    expect(readyAddresses).toEqual(podIPs);
  });

  it("calls a URL webhook with a caBundle on a Deployment update and applies its patch", async () => {
    const seen: AdmissionRequest[] = [];
    const server = await startAdmissionServer((request) => {
      seen.push(request);
      return {
        allowed: true,
        patch: [{ op: "add", path: "/metadata/annotations/smoke.test~1mutated-by", value: "url-webhook" }],
      };
    });
    const webhookName = `smoke-${ns.name}.test.spot-orchestrator.io`;
    try {
      await applyMutatingWebhookConfiguration(kc, {
        metadata: { name: webhookName },
        webhooks: [
          {
            name: webhookName,
            clientConfig: { url: server.url("/mutate"), caBundle: server.caBundle },
            rules: [
              {
                operations: ["UPDATE"],
                apiGroups: ["apps"],
                apiVersions: ["v1"],
                resources: ["deployments"],
              },
            ],
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns.name } },
            admissionReviewVersions: ["v1"],
            sideEffects: "None",
            failurePolicy: "Fail",
            timeoutSeconds: 5,
          },
        ],
      });

      // the apiserver picks new webhook configurations up asynchronously: update until it calls
      const updated = await waitFor("the webhook's patch on the Deployment", async () => {
        const d = await apps.patchNamespacedDeployment(
          {
            namespace: ns.name,
            name: "web",
            body: { metadata: { annotations: { touched: String(Date.now()) } } },
          },
          mergePatch,
        );
        return d.metadata?.annotations?.["smoke.test/mutated-by"] === "url-webhook" ? d : undefined;
      });

      expect(updated.metadata?.annotations?.touched).toBeDefined();
      const call = seen.find((r) => r.name === "web");
      expect(call).toMatchObject({
        operation: "UPDATE",
        namespace: ns.name,
        kind: { group: "apps", kind: "Deployment" },
      });
      const stored = await apps.readNamespacedDeployment({ namespace: ns.name, name: "web" });
      expect(stored.metadata?.annotations?.["smoke.test/mutated-by"]).toBe("url-webhook");
    } finally {
      await deleteMutatingWebhookConfiguration(kc, webhookName);
      await server.close();
    }
  });

  describe("Fargate profiles", () => {
    const profileName = `smoke-${randomBytes(3).toString("hex")}`;

    beforeAll(async () => {
      await fargateProfiles(kc).add({
        name: profileName,
        selectors: [{ namespace: ns.name, labels: { "compute-type": "fargate" } }],
      });
    });

    afterAll(async () => {
      await fargateProfiles(kc).remove(profileName);
    });

    it("runs a pod matching a profile on a Fargate node of its own", async () => {
      await core.createNamespacedPod({
        namespace: ns.name,
        body: pod("on-fargate", {}, { "compute-type": "fargate" }),
      });

      const running = await waitFor("on-fargate to be Ready", async () => {
        const p = await core.readNamespacedPod({ namespace: ns.name, name: "on-fargate" });
        return isReady(p) ? p : undefined;
      });
      expect(running.metadata?.labels?.[fargateProfileLabel]).toBe(profileName);
      expect(running.spec?.schedulerName).toBe("default-scheduler");
      expect(running.spec?.tolerations).toContainEqual(
        expect.objectContaining({ key: fargateComputeLabel, value: "fargate", effect: "NoSchedule" }),
      );
      const node = await core.readNode({ name: running.spec?.nodeName ?? "" });
      expect(node.metadata?.name).toMatch(/^fargate-ip-10-0-\d+-\d+\.eu-west-1\.compute\.internal$/);
      expect(node.metadata?.labels?.[fargateComputeLabel]).toBe("fargate");
      expect(node.spec?.taints).toContainEqual(
        expect.objectContaining({ key: fargateComputeLabel, value: "fargate", effect: "NoSchedule" }),
      );
    });

    it("keeps a pod matching no profile off Fargate nodes", async () => {
      await core.createNamespacedPod({
        namespace: ns.name,
        body: pod("wants-fargate", { nodeSelector: { [fargateComputeLabel]: "fargate" } }),
      });

      const event = await waitFor("a FailedScheduling event", async () => {
        const events = await core.listNamespacedEvent({
          namespace: ns.name,
          fieldSelector: "involvedObject.name=wants-fargate,reason=FailedScheduling",
        });
        return events.items[0];
      });
      expect(event.message).toContain("untolerated taint");
      const p = await core.readNamespacedPod({ namespace: ns.name, name: "wants-fargate" });
      expect(p.spec?.nodeName).toBeUndefined();
      expect(p.metadata?.labels?.[fargateProfileLabel]).toBeUndefined();
    });

    it("rejects a Fargate-incompatible pod matching a profile with EKS's message", async () => {
      const privileged = pod(
        "privileged",
        {
          hostNetwork: true,
          containers: [
            {
              name: "app",
              image: "registry.k8s.io/pause:3.10",
              securityContext: { privileged: true },
              ports: [{ containerPort: 9000 }],
            },
          ],
        },
        { "compute-type": "fargate" },
      );

      const rejection = await core.createNamespacedPod({ namespace: ns.name, body: privileged }).then(
        () => "created",
        (err: unknown) => apiErrorMessage(err),
      );
      expect(rejection).toContain(
        "Pod not supported on Fargate: fields not supported: HostNetwork, invalid SecurityContext fields: Privileged, port contains HostIP or HostPort",
      );
    });
  });
});
