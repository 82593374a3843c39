import { randomBytes, randomInt } from "node:crypto";
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Node,
  type V1Taint,
} from "@kubernetes/client-node";
import { instanceIdOf as ec2InstanceIdOf, regionOfZone } from "../../core/ec2.ts";
import { ignoreNotFound, statusCodeOf } from "./api-errors.ts";
import { waitFor } from "./wait.ts";

/** kwok's controller (as kwokctl starts it) manages nodes carrying this annotation. */
export const kwokNodeAnnotation = { "kwok.x-k8s.io/node": "fake" } as const;

export const fargateComputeLabel = "eks.amazonaws.com/compute-type";
export const fargateTaint: V1Taint = { key: fargateComputeLabel, value: "fargate", effect: "NoSchedule" };

export type CapacityType = "spot" | "on-demand";

export interface NodeSize {
  cpu?: string;
  memory?: string;
  pods?: number;
}

export interface Ec2NodeOptions extends NodeSize {
  zone?: string;
  instanceType?: string;
  /** value of eks.amazonaws.com/nodegroup; lets a test pin its pods to its own nodes */
  nodegroup?: string;
  labels?: Record<string, string>;
  taints?: V1Taint[];
}

export interface FargateNodeOptions extends NodeSize {
  zone?: string;
  /** the node's (and its single pod's) VPC address; random in 10.0.0.0/16 by default */
  ip?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export const defaultZone = "eu-west-1a";

/** A Node shaped like an EKS EC2 worker: ip-10-0-x-y.<region>.compute.internal, providerID aws:///<az>/i-<17 hex>. */
export function ec2NodeManifest(capacityType: CapacityType, options: Ec2NodeOptions = {}): V1Node {
  const zone = options.zone ?? defaultZone;
  const ip = randomVpcAddress();
  const name = `ip-${ip.replaceAll(".", "-")}.${internalDomain(zone)}`;
  const instanceId = `i-${randomBytes(9).toString("hex").slice(0, 17)}`;
  const instanceType = options.instanceType ?? "m5.xlarge";
  return nodeManifest({
    name,
    ip,
    providerID: `aws:///${zone}/${instanceId}`,
    size: { cpu: options.cpu ?? "3920m", memory: options.memory ?? "15Gi", pods: options.pods ?? 58 },
    podCIDR: randomPodCidr(),
    labels: {
      ...topologyLabels(name, zone),
      "node.kubernetes.io/instance-type": instanceType,
      "beta.kubernetes.io/instance-type": instanceType,
      "eks.amazonaws.com/capacityType": capacityType === "spot" ? "SPOT" : "ON_DEMAND",
      "karpenter.sh/capacity-type": capacityType,
      ...(options.nodegroup ? { "eks.amazonaws.com/nodegroup": options.nodegroup } : {}),
      ...options.labels,
    },
    taints: options.taints ?? [],
  });
}

/** A Node shaped like an EKS Fargate node: fargate-ip-10-0-x-y.<region>.compute.internal, labelled and tainted. */
export function fargateNodeManifest(options: FargateNodeOptions = {}): V1Node {
  const zone = options.zone ?? defaultZone;
  const ip = options.ip ?? randomVpcAddress();
  const name = `fargate-ip-${ip.replaceAll(".", "-")}.${internalDomain(zone)}`;
  return nodeManifest({
    name,
    ip,
    providerID: `aws:///${zone}/${randomBytes(16).toString("hex")}/${name}`,
    size: { cpu: options.cpu ?? "2", memory: options.memory ?? "4Gi", pods: options.pods ?? 1 },
    labels: { ...topologyLabels(name, zone), [fargateComputeLabel]: "fargate", ...options.labels },
    annotations: options.annotations,
    taints: [fargateTaint],
  });
}

/** Creates the node (a new random address on a name clash) and waits until kwok reports it Ready. */
export async function addNode(
  kc: KubeConfig,
  manifest: V1Node | (() => V1Node),
  readyTimeoutMs?: number,
): Promise<V1Node> {
  const core = kc.makeApiClient(CoreV1Api);
  for (let attempt = 0; ; attempt++) {
    const body = typeof manifest === "function" ? manifest() : manifest;
    try {
      const created = await core.createNode({ body });
      return await waitForNodeReady(kc, created.metadata?.name ?? "", readyTimeoutMs);
    } catch (err) {
      if (statusCodeOf(err) !== 409 || typeof manifest !== "function" || attempt > 5) throw err;
    }
  }
}

export function addSpotNodes(kc: KubeConfig, count: number, options: Ec2NodeOptions = {}): Promise<V1Node[]> {
  return addNodes(kc, count, () => ec2NodeManifest("spot", options));
}

export function addOnDemandNodes(
  kc: KubeConfig,
  count: number,
  options: Ec2NodeOptions = {},
): Promise<V1Node[]> {
  return addNodes(kc, count, () => ec2NodeManifest("on-demand", options));
}

export function addFargateNode(kc: KubeConfig, options: FargateNodeOptions = {}): Promise<V1Node> {
  return addNode(kc, () => fargateNodeManifest(options));
}

function addNodes(kc: KubeConfig, count: number, manifest: () => V1Node): Promise<V1Node[]> {
  return Promise.all(Array.from({ length: count }, () => addNode(kc, manifest)));
}

export async function waitForNodeReady(kc: KubeConfig, name: string, timeoutMs = 30_000): Promise<V1Node> {
  const core = kc.makeApiClient(CoreV1Api);
  return waitFor(
    `node ${name} to be Ready`,
    async () => {
      const node = await core.readNode({ name });
      const ready = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
      const notReadyTaint = node.spec?.taints?.some((t) => t.key.startsWith("node.kubernetes.io/not-ready"));
      return ready && !notReadyTaint ? node : undefined;
    },
    { timeoutMs },
  );
}

/** Deletes the Node object only; its pods are left to the pod garbage collector, as after a scale-in. */
export async function removeNode(kc: KubeConfig, name: string): Promise<void> {
  await ignoreNotFound(() => kc.makeApiClient(CoreV1Api).deleteNode({ name }));
}

/**
 * The instance is gone: the Node is deleted and its pods force-deleted, as the cloud node-lifecycle
 * controller and pod GC do for a vanished EC2 instance. Returns the names ("namespace/name") of those pods.
 */
export async function terminateNode(kc: KubeConfig, name: string): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  await ignoreNotFound(() => core.deleteNode({ name, gracePeriodSeconds: 0 }));
  const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` });
  const deleted: string[] = [];
  for (const pod of pods.items) {
    const namespace = pod.metadata?.namespace ?? "";
    const podName = pod.metadata?.name ?? "";
    await ignoreNotFound(() => core.deleteNamespacedPod({ namespace, name: podName, gracePeriodSeconds: 0 }));
    deleted.push(`${namespace}/${podName}`);
  }
  return deleted;
}

export async function cordon(kc: KubeConfig, name: string, unschedulable = true): Promise<V1Node> {
  return kc
    .makeApiClient(CoreV1Api)
    .patchNode(
      { name, body: { spec: { unschedulable } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
}

export function uncordon(kc: KubeConfig, name: string): Promise<V1Node> {
  return cordon(kc, name, false);
}

/** The EC2 instance id from spec.providerID (aws:///<az>/<instance-id>), read as the watcher reads it. */
export function instanceIdOf(node: V1Node): string {
  const id = ec2InstanceIdOf(node);
  if (id === undefined) {
    throw new Error(`node ${node.metadata?.name} has no EC2 providerID: '${node.spec?.providerID ?? ""}'`);
  }
  return id;
}

export function regionOf(zone: string): string {
  const region = regionOfZone(zone);
  if (region === undefined) throw new Error(`${zone} is not an AWS availability zone`);
  return region;
}

function internalDomain(zone: string): string {
  const region = regionOf(zone);
  // EKS's one exception to <region>.compute.internal
  return region === "us-east-1" ? "ec2.internal" : `${region}.compute.internal`;
}

function topologyLabels(name: string, zone: string): Record<string, string> {
  return {
    "kubernetes.io/hostname": name,
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
    "topology.kubernetes.io/zone": zone,
    "topology.kubernetes.io/region": regionOf(zone),
  };
}

function nodeManifest(spec: {
  name: string;
  ip: string;
  providerID: string;
  size: NodeSize;
  podCIDR?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  taints: V1Taint[];
}): V1Node {
  const resources = {
    cpu: spec.size.cpu ?? "2",
    memory: spec.size.memory ?? "4Gi",
    pods: String(spec.size.pods ?? 110),
  };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: spec.name,
      annotations: { ...spec.annotations, ...kwokNodeAnnotation },
      labels: spec.labels,
    },
    spec: {
      providerID: spec.providerID,
      taints: spec.taints,
      ...(spec.podCIDR ? { podCIDR: spec.podCIDR, podCIDRs: [spec.podCIDR] } : {}),
    },
    status: {
      capacity: resources,
      allocatable: resources,
      addresses: [
        { type: "InternalIP", address: spec.ip },
        { type: "Hostname", address: spec.name },
        { type: "InternalDNS", address: spec.name },
      ],
    },
  };
}

function randomVpcAddress(): string {
  return `10.0.${randomInt(0, 256)}.${randomInt(1, 255)}`;
}

/** Each EC2 node hands its pods addresses from its own /24, so pod IPs stay unique across nodes. */
function randomPodCidr(): string {
  return `100.${randomInt(64, 128)}.${randomInt(0, 256)}.0/24`;
}
