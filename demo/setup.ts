// The demo's corner of the cluster: its namespace, an EKS-shaped node group of spot nodes in two zones, an
// on-demand node, a Fargate profile for the namespace, and the sample app on spot.
import { randomBytes } from "node:crypto";
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Node } from "@kubernetes/client-node";
import { NodeLabel } from "../core/contract.ts";
import { addNode, ec2NodeManifest, instanceIdOf } from "../harness/cluster/nodes.ts";
import { waitFor } from "../harness/cluster/wait.ts";
import { fargateProfiles } from "../harness/fargate/profile-store.ts";
import type { StartupTime } from "../harness/fargate/startup.ts";
import { appName, replicas, sampleDeployment, sampleService, poolTaint } from "./sampleApp.ts";
import { readyOn, type ClusterSampler, type Snapshot } from "./sampler.ts";

export const demoNamespaceLabel = "spot-orchestrator.io/demo";

/** Node-group label value of the demo's nodes; unique per run so parallel runs never share nodes. */
export function newPool(): string {
  return `demo-${randomBytes(3).toString("hex")}`;
}

/** Creates `demo-xxxxx` and waits for its default service account (pods are rejected until it exists). */
export async function createDemoNamespace(kc: KubeConfig): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const created = await core.createNamespace({
    body: { metadata: { generateName: "demo-", labels: { [demoNamespaceLabel]: "true" } } },
  });
  const name = created.metadata?.name ?? "";
  await waitFor(`service account ${name}/default`, () =>
    core.readNamespacedServiceAccount({ namespace: name, name: "default" }),
  );
  return name;
}

export const nodeName = (node: V1Node): string => node.metadata?.name ?? "";
export const zoneOf = (node: V1Node): string => node.metadata?.labels?.[NodeLabel.zone] ?? "?";

export function describeNode(node: V1Node): string {
  return `${nodeName(node)} (${zoneOf(node)}, ${instanceIdOf(node)})`;
}

/** A spot node of the demo's node group, tainted so only the demo's pods land there. */
export function addSpotNode(kc: KubeConfig, pool: string, zone: string): Promise<V1Node> {
  return addNode(kc, () =>
    ec2NodeManifest("spot", { nodegroup: pool, zone, instanceType: "m5.large", taints: [poolTaint(pool)] }),
  );
}

export function addOnDemandNode(kc: KubeConfig, pool: string, zone: string): Promise<V1Node> {
  return addNode(kc, () =>
    ec2NodeManifest("on-demand", { nodegroup: `${pool}-on-demand`, zone, taints: [poolTaint(pool)] }),
  );
}

export function fargateProfileName(namespace: string): string {
  return `fp-${namespace}`;
}

/**
 * What EKS would have after `aws eks create-fargate-profile --selectors namespace=<ns>,labels={compute-type=fargate}`,
 * its pods taking `startup` from scheduling to Ready.
 */
export async function addFargateProfile(
  kc: KubeConfig,
  namespace: string,
  startup: StartupTime,
): Promise<string> {
  const name = fargateProfileName(namespace);
  await fargateProfiles(kc).add({
    name,
    selectors: [{ namespace, labels: { "compute-type": "fargate" } }],
    startup,
  });
  return name;
}

export async function deploySampleApp(kc: KubeConfig, namespace: string, pool: string): Promise<void> {
  await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace, body: sampleDeployment(pool) });
  await kc.makeApiClient(CoreV1Api).createNamespacedService({ namespace, body: sampleService() });
}

/** Waits until every replica is Ready on spot and behind a ready endpoint. */
export async function waitForAppOnSpot(sampler: ClusterSampler, timeoutMs: number): Promise<Snapshot> {
  const { snapshot } = await sampler.until(
    `${appName}: ${replicas} replicas Ready on spot with ${replicas} ready endpoints`,
    (s) =>
      readyOn(s, "spot").length === replicas &&
      s.pods.length === replicas &&
      s.readyEndpoints.length === replicas &&
      (s.deployment.status?.availableReplicas ?? 0) === replicas,
    timeoutMs,
  );
  return snapshot;
}

/** How many of the snapshot's pods run on each node. */
export function podsPerNode(snapshot: Snapshot): Map<string, number> {
  const perNode = new Map<string, number>();
  for (const pod of snapshot.pods) perNode.set(pod.node ?? "?", (perNode.get(pod.node ?? "?") ?? 0) + 1);
  return perNode;
}
