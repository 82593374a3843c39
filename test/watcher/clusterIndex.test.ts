// The cluster index against the real apiserver: pods are found by their node as they come and go (in any
// namespace: capacity counts every pod), and the watched namespace's Deployments are kept whole while opted
// in, by name and selector otherwise, until deleted.
import { randomBytes } from "node:crypto";
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type V1Node } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { ClusterIndex } from "../../watcher/cluster/clusterIndex.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, removeNode } from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { testKube } from "../support/watcherParts.ts";
import { quietLog } from "../support/log.ts";

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const watched = useNamespace("cluster-index");
const other = useNamespace("cluster-index-other");
const suffix = randomBytes(3).toString("hex");

let node: V1Node;
let nodeName: string;
let index: ClusterIndex;
beforeAll(async () => {
  index = new ClusterIndex({
    kube: testKube(),
    log: quietLog,
    scope: { namespaces: [watched.name], deploymentName: "" },
  });
  index.start();
  [node] = (await addSpotNodes(kc, 1, { nodegroup: `cluster-index-${suffix}` })) as [V1Node];
  nodeName = node.metadata?.name ?? "";
  await index.synced;
});

afterAll(async () => {
  await index?.stop();
  if (nodeName) await removeNode(kc, nodeName);
});

const podNames = () => index.pods.onNode(nodeName).map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`);

async function boundPod(namespace: string, name: string): Promise<void> {
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels: { app: name } },
      spec: {
        nodeName,
        terminationGracePeriodSeconds: 0,
        containers: [
          { name: "app", image: "registry.k8s.io/pause:3.10", resources: { requests: { cpu: "100m" } } },
        ],
      },
    },
  });
}

describe("cluster index", () => {
  it("finds the pods on a node, in every namespace, as they come and go", async () => {
    await boundPod(watched.name, "a");
    await boundPod(other.name, "b");
    const both = [`${watched.name}/a`, `${other.name}/b`];
    await waitFor("both pods on the node in the index", () => both.every((p) => podNames().includes(p)));
    const slim = index.pods.onNode(nodeName).find((p) => p.metadata?.name === "a");
    expect(slim?.spec?.containers).toEqual([{ name: "app", resources: { requests: { cpu: "100m" } } }]);
    expect(index.pods.all().filter((p) => p.spec?.nodeName === nodeName)).toHaveLength(2);

    await core.deleteNamespacedPod({ namespace: other.name, name: "b", gracePeriodSeconds: 0 });
    await waitFor("the deleted pod to leave the index", () => !podNames().includes(`${other.name}/b`));
    expect(podNames()).toContain(`${watched.name}/a`);
  });

  it("keeps a Deployment whole while it is opted in, by name and selector otherwise", async () => {
    const ref = { namespace: watched.name, name: "web" };
    await apps.createNamespacedDeployment({
      namespace: watched.name,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
          },
        },
      },
    });
    const seen = await waitFor("the Deployment in the index", () => index.deployments.get(ref));
    expect(seen.spec?.selector).toEqual({ matchLabels: { app: "web" } });
    expect(seen.spec?.template).toBeUndefined();

    const optIn = { metadata: { annotations: { [Annotation.enabled]: "true" } } };
    await apps.patchNamespacedDeployment({ ...ref, body: optIn }, mergePatch);
    const whole = await waitFor(
      "the opted-in Deployment whole in the index",
      () => index.deployments.get(ref)?.spec?.template !== undefined && index.deployments.get(ref),
    );
    expect(whole.metadata?.annotations?.[Annotation.enabled]).toBe("true");
    expect(whole.metadata?.managedFields).toBeUndefined();
    // the version kept is the one stored (a flip's precondition)
    await waitFor("the index at the stored version", async () => {
      const stored = await apps.readNamespacedDeployment(ref);
      return index.deployments.get(ref)?.metadata?.resourceVersion === stored.metadata?.resourceVersion;
    });

    const optOut = { metadata: { annotations: { [Annotation.enabled]: null } } };
    await apps.patchNamespacedDeployment({ ...ref, body: optOut }, mergePatch);
    await waitFor(
      "the opted-out Deployment slim again",
      () => index.deployments.get(ref)?.spec?.template === undefined,
    );

    await apps.deleteNamespacedDeployment(ref);
    await waitFor(
      "the deleted Deployment to leave the index",
      () => index.deployments.get(ref) === undefined,
    );
  });
});
