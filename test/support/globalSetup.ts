// Integration tests' global setup: one cluster and one Fargate emulator for the whole run.
//
// - E2E_KUBECONFIG set: that cluster is used as is; nothing is started or stopped. The Fargate emulator
//   still runs here, so that cluster's apiserver must reach 127.0.0.1 (it must run on this host).
// - otherwise the local kwok cluster is built/started (or reused when `npm run cluster:up` left it up).
//   The cluster is left running at the end, for the next run and for any other run sharing it (several
//   runs in one checkout share one cluster); `npm run cluster:down` deletes it. KEEP_CLUSTER=0 deletes
//   it at the end, but only when this run created it (a throwaway CI machine may want that).
import { resolve } from "node:path";
import type { TestProject } from "vitest/node";
import { startFargateEmulator } from "../../harness/fargate/emulator.ts";
import { waitUntilUsable } from "../../harness/cluster/kwok-cluster.ts";
import { loadKubeConfig } from "../../harness/cluster/kubeconfig.ts";
import { downLocalCluster, upLocalCluster } from "../../harness/cluster/local-cluster.ts";
import "./provided.ts";
import { useGoTools } from "../tools/go-tools.ts";
import { usePythonTools } from "../tools/python-tools.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // the tools build while the control plane builds: their module downloads and links overlap its compiles
  const tools = Promise.all([usePythonTools(), useGoTools()]);
  // a failed tool build is reported once awaited below, not as an unhandled rejection meanwhile
  tools.catch(() => undefined);
  let kubeconfigPath: string;
  let createdHere = false;
  if (process.env.E2E_KUBECONFIG) {
    kubeconfigPath = resolve(process.env.E2E_KUBECONFIG);
    await waitUntilUsable(kubeconfigPath);
  } else {
    const { cluster, outcome, ms } = await upLocalCluster();
    process.stderr.write(`[cluster] ${cluster.name} ${outcome} in ${ms} ms\n`);
    kubeconfigPath = cluster.kubeconfigPath;
    createdHere = outcome === "created";
  }

  await tools;
  const fargate = await startFargateEmulator(loadKubeConfig(kubeconfigPath));
  project.provide("kubeconfigPath", kubeconfigPath);

  return async () => {
    await fargate.close();
    if (createdHere && process.env.KEEP_CLUSTER === "0") await downLocalCluster();
  };
}
