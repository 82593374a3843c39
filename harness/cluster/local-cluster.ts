import { join } from "node:path";
import { ensureBinaries } from "./binaries.ts";
import { clusterDown, clusterUp, type KwokCluster, type UpOutcome } from "./kwok-cluster.ts";
import { withLock } from "./lock.ts";
import { clusterDir, clusterName, defaultKubeconfigPath } from "./paths.ts";

const lockDir = join(clusterDir, "lock");

/** The project's local cluster: built binaries, this checkout's cluster name, `.cluster/kubeconfig`. */
async function localCluster(): Promise<KwokCluster> {
  return { name: clusterName(), binDir: await ensureBinaries(), kubeconfigPath: defaultKubeconfigPath };
}

export async function upLocalCluster(): Promise<{ cluster: KwokCluster; outcome: UpOutcome; ms: number }> {
  return withLock(lockDir, async () => {
    const cluster = await localCluster();
    const start = performance.now();
    const outcome = await clusterUp(cluster);
    return { cluster, outcome, ms: Math.round(performance.now() - start) };
  });
}

export async function downLocalCluster(): Promise<KwokCluster> {
  return withLock(lockDir, async () => {
    const cluster = await localCluster();
    await clusterDown(cluster);
    return cluster;
  });
}
