// The indexes keep slim copies: whatever the watcher's rules read of an object must read the same on the copy.
import { readFileSync } from "node:fs";
import type { V1Deployment, V1Node, V1Pod, V1PodSpec } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { instanceIdOf } from "../../core/ec2.ts";
import { podRequests } from "../../core/podRequests.ts";

import { spotFit } from "../recovery/spotCapacity.ts";
import { deploymentNameOf, selects } from "./affectedDeployments.ts";
import { slimDeployment } from "./deploymentIndex.ts";
import { slimNode } from "./nodeIndex.ts";
import { slimPod } from "./podIndex.ts";
import { controllerOf, holdsNode, isPodReady } from "./pods.ts";
import { countsAsOptedIn, type OptInScope } from "../../core/contract.ts";

/** An EKS spot node as the apiserver sends it (images and node info shortened). */
function eksNode(name: string, overrides: Partial<V1Node["spec"]> = {}): V1Node {
  return {
    metadata: {
      name,
      uid: `uid-${name}`,
      resourceVersion: "4242",
      labels: {
        "eks.amazonaws.com/capacityType": "SPOT",
        "topology.kubernetes.io/zone": "eu-west-1a",
        "kubernetes.io/hostname": name,
      },
      annotations: {
        "node.alpha.kubernetes.io/ttl": "0",
        "alpha.kubernetes.io/provided-node-ip": "10.0.1.2",
      },
      managedFields: [{ manager: "kubelet", operation: "Update", fieldsV1: { "f:status": {} } }],
    },
    spec: { providerID: "aws:///eu-west-1a/i-0123456789abcdef0", ...overrides },
    status: {
      allocatable: { cpu: "1930m", memory: "7220Mi", pods: "29" },
      capacity: { cpu: "2", memory: "7950Mi", pods: "29" },
      conditions: [
        { type: "MemoryPressure", status: "False" },
        { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" },
      ],
      addresses: [{ type: "InternalIP", address: "10.0.1.2" }],
      images: [
        { names: ["602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.18.0"], sizeBytes: 1 },
      ],
      nodeInfo: {
        architecture: "amd64",
        bootID: "b",
        containerRuntimeVersion: "containerd://1.7.11",
        kernelVersion: "6.1",
        kubeProxyVersion: "v1.30.0",
        kubeletVersion: "v1.30.0",
        machineID: "m",
        operatingSystem: "linux",
        osImage: "Amazon Linux 2023",
        systemUUID: "s",
      },
    },
  };
}

function webPod(name: string, node: string, phase = "Running"): V1Pod {
  return {
    metadata: {
      name,
      namespace: "shop",
      uid: `uid-${name}`,
      resourceVersion: "77",
      labels: { app: "web", "pod-template-hash": "7d9f8c6b5" },
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d9f8c6b5", uid: "rs-1", controller: true },
      ],
      managedFields: [{ manager: "kube-controller-manager", operation: "Update" }],
    },
    spec: {
      nodeName: node,
      initContainers: [
        {
          name: "istio-proxy",
          image: "proxy",
          restartPolicy: "Always",
          resources: { requests: { cpu: "100m" } },
        },
        { name: "migrate", image: "tool", resources: { requests: { memory: "2Gi" } } },
      ],
      containers: [
        {
          name: "app",
          image: "registry.example.com/web:1.2.3",
          env: [{ name: "A", value: "b" }],
          resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "1Gi" } },
        },
      ],
      overhead: { cpu: "10m" },
      volumes: [{ name: "data", emptyDir: {} }],
    },
    status: {
      phase,
      conditions: [{ type: "Ready", status: "True" }],
      containerStatuses: [
        { name: "app", image: "web", imageID: "sha", ready: true, restartCount: 0, started: true },
      ],
    },
  };
}

describe("slimNode", () => {
  it("keeps what the rules read: instance id, labels, readiness, taints, cordon, allocatable", () => {
    const node = eksNode("ip-10-0-1-2", {
      taints: [{ key: "dedicated", value: "web", effect: "NoSchedule" }],
    });
    const slim = slimNode(node);
    expect(instanceIdOf(slim)).toBe(instanceIdOf(node));
    expect(slim.metadata?.labels).toEqual(node.metadata?.labels);
    const spec: V1PodSpec = { containers: [{ name: "a", resources: { requests: { cpu: "500m" } } }] };
    const view = { pods: [], interruptedNodes: new Set<string>(), stormZones: new Set<string>() };
    for (const placed of [spec, { ...spec, tolerations: [{ key: "dedicated", operator: "Exists" }] }]) {
      expect(spotFit(placed, 3, { ...view, nodes: [slim] })).toEqual(
        spotFit(placed, 3, { ...view, nodes: [node] }),
      );
    }
    const cordoned = eksNode("c", { unschedulable: true });
    expect(spotFit(spec, 1, { ...view, nodes: [slimNode(cordoned)] })).toEqual(
      spotFit(spec, 1, { ...view, nodes: [cordoned] }),
    );
  });

  it("drops images, node info, addresses, annotations, managedFields and the other conditions", () => {
    const slim = slimNode(eksNode("n"));
    expect(slim.status?.images).toBeUndefined();
    expect(slim.status?.nodeInfo).toBeUndefined();
    expect(slim.status?.addresses).toBeUndefined();
    expect(slim.metadata?.annotations).toBeUndefined();
    expect(slim.metadata?.managedFields).toBeUndefined();
    expect(slim.status?.conditions).toEqual([{ type: "Ready", status: "True" }]);
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(eksNode("n")).length / 2);
  });
});

describe("slimPod", () => {
  it("keeps what the rules read: node, phase, controller, labels, requests", () => {
    const pod = webPod("web-7d9f8c6b5-abcde", "ip-10-0-1-2");
    const slim = slimPod(pod);
    expect(slim.spec?.nodeName).toBe("ip-10-0-1-2");
    expect(holdsNode(slim)).toBe(true);
    expect(holdsNode(slimPod(webPod("done", "n", "Succeeded")))).toBe(false);
    expect(controllerOf(slim.metadata, "ReplicaSet")).toEqual(controllerOf(pod.metadata, "ReplicaSet"));
    expect(deploymentNameOf(slim)).toBe("web");
    const web: V1Deployment = { spec: { selector: { matchLabels: { app: "web" } }, template: {} } };
    expect(selects(web, slim)).toBe(true);
    expect(podRequests(slim.spec!)).toEqual(podRequests(pod.spec!));
    // a limit without a request counts as the request
    const limitsOnly = webPod("l", "n");
    limitsOnly.spec!.containers[0]!.resources = { limits: { cpu: "1", memory: "1Gi" } };
    expect(podRequests(slimPod(limitsOnly).spec!)).toEqual(podRequests(limitsOnly.spec!));
  });

  it("drops images, environment, volumes, status details and managedFields", () => {
    const slim = slimPod(webPod("p", "n"));
    expect(slim.spec?.containers).toEqual([
      { name: "app", resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "1Gi" } } },
    ]);
    expect(slim.spec?.volumes).toBeUndefined();
    expect(slim.status).toEqual({ phase: "Running" });
    expect(slim.metadata?.managedFields).toBeUndefined();
    // the index is never asked about readiness: health checks read pods fresh
    expect(isPodReady(slim)).toBe(false);
  });
});

describe("slimDeployment", () => {
  const stored = (): V1Deployment =>
    JSON.parse(
      readFileSync(
        new URL("../../test/fixtures/admission/deployment-update-to-fargate.json", import.meta.url),
        "utf8",
      ),
    ).request.oldObject;
  const scope: OptInScope = { namespaces: [], deploymentName: "" };

  it("keeps an opted-in Deployment whole but its managedFields", () => {
    const deployment = stored();
    expect(countsAsOptedIn(deployment, scope)).toBe(true);
    expect(deployment.metadata?.managedFields?.length).toBeGreaterThan(0);
    const { managedFields: _dropped, ...metadata } = deployment.metadata!;
    expect(slimDeployment(scope)(deployment)).toEqual({ ...deployment, metadata });
  });

  it("keeps another by name and selector, which still tell its pods apart", () => {
    const deployment = stored();
    delete deployment.metadata!.annotations![Annotation.enabled];
    const slim = slimDeployment(scope)(deployment);
    expect(countsAsOptedIn(slim, scope)).toBe(false);
    expect(slim.metadata).toEqual({
      name: deployment.metadata?.name,
      namespace: deployment.metadata?.namespace,
      resourceVersion: deployment.metadata?.resourceVersion,
      uid: deployment.metadata?.uid,
    });
    expect(slim.spec?.selector).toEqual(deployment.spec?.selector);
    expect(slim.spec?.template).toBeUndefined();
  });

  it("keeps the configured Deployment (DEPLOYMENT_NAME) whole without the annotation", () => {
    const deployment = stored();
    delete deployment.metadata!.annotations![Annotation.enabled];
    const named = { ...scope, deploymentName: deployment.metadata!.name! };
    expect(slimDeployment(named)(deployment).spec?.template).toEqual(deployment.spec?.template);
  });
});
