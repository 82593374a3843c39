// The cluster the demo runs in: one given by --kubeconfig (used as is), or the project's local control plane,
// built or reused (the build script's `[build] ...` progress lines go straight to stderr) and started or reused.
import { resolve } from "node:path";
import { binary } from "../harness/cluster/binaries.ts";
import { waitUntilUsable } from "../harness/cluster/kwok-cluster.ts";
import { upLocalCluster } from "../harness/cluster/local-cluster.ts";
import type { Narrator } from "./narrator.ts";
import { seconds } from "./narrator.ts";

export interface DemoCluster {
  kubeconfigPath: string;
  /** The kubectl built with the control plane, when the demo uses the local cluster. */
  kubectl: string | undefined;
}

export async function prepareCluster(
  kubeconfig: string | undefined,
  narrator: Narrator,
): Promise<DemoCluster> {
  if (kubeconfig !== undefined) {
    const kubeconfigPath = resolve(kubeconfig);
    await waitUntilUsable(kubeconfigPath);
    narrator.step(`using the cluster of ${kubeconfigPath}`);
    return { kubeconfigPath, kubectl: undefined };
  }
  narrator.step(
    "control plane: building or reusing kube-apiserver, controller-manager, scheduler, etcd, kwok",
  );
  const started = Date.now();
  const { cluster, outcome, ms } = await upLocalCluster();
  const binariesMs = Date.now() - started - ms;
  narrator.step(
    `control plane binaries ready (${seconds(binariesMs)}): ${cluster.binDir}`,
    started + binariesMs,
  );
  narrator.step(`cluster ${cluster.name} ${outcome} (${seconds(ms)})`);
  return { kubeconfigPath: cluster.kubeconfigPath, kubectl: binary(cluster.binDir, "kubectl") };
}
