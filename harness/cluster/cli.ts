// Usage: node harness/cluster/cli.ts up | down | fargate
//   up       build (or reuse) the binaries, start (or reuse) the local cluster with its standing EKS-shaped
//            nodes (spot, on-demand, Fargate), print its kubeconfig path
//   down     delete the local cluster
//   fargate  run the Fargate emulator against the local cluster until interrupted (for manual sessions;
//            test runs start their own)
import { startFargateEmulator } from "../fargate/emulator.ts";
import { loadKubeConfig } from "./kubeconfig.ts";
import { downLocalCluster, upLocalCluster } from "./local-cluster.ts";
import { ensureLocalNodes } from "./localNodes.ts";

const command = process.argv[2];
if (command === "up") {
  const { cluster, outcome, ms } = await upLocalCluster();
  process.stderr.write(`[cluster] ${cluster.name} ${outcome} in ${ms} ms\n`);
  const { nodes, added } = await ensureLocalNodes(loadKubeConfig(cluster.kubeconfigPath));
  process.stderr.write(
    `[cluster] ${added ? "added" : "reused"} ${nodes.length} standing nodes: ` +
      `${nodes.map((n) => n.metadata?.name).join(", ")}\n`,
  );
  process.stdout.write(`${cluster.kubeconfigPath}\n`);
} else if (command === "down") {
  const cluster = await downLocalCluster();
  process.stderr.write(`[cluster] ${cluster.name} deleted\n`);
} else if (command === "fargate") {
  const { cluster } = await upLocalCluster();
  const emulator = await startFargateEmulator(loadKubeConfig(cluster.kubeconfigPath));
  process.stderr.write(
    "[fargate] emulator running; profiles: kubectl -n kube-system edit cm eks-fargate-profiles\n",
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await emulator.close();
} else {
  process.stderr.write("usage: node harness/cluster/cli.ts up|down|fargate\n");
  process.exitCode = 2;
}
