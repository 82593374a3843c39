// What every benchmark process needs around its runs: cleanup steps run in reverse order at the end or on
// SIGINT/SIGTERM, and the cluster to run on (E2E_KUBECONFIG's, or the local one, started or reused).
import { resolve } from "node:path";
import { waitUntilUsable } from "../harness/cluster/kwok-cluster.ts";
import { upLocalCluster } from "../harness/cluster/local-cluster.ts";

export interface Cleanups {
  /** Steps, run last added first. */
  readonly steps: (() => Promise<unknown>)[];
  run(): Promise<void>;
}

/** Runs the benchmark's `main`: a failure is logged with its stack and exits 1; the cleanups run either way. */
export async function runBench(main: () => Promise<void>, cleanups: Cleanups, log: (line: string) => void) {
  try {
    await main();
  } catch (err) {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  } finally {
    log("cleaning up");
    await cleanups.run();
  }
}

/** Cleanup steps, also run (then exit 130) when the process is interrupted. */
export function benchCleanups(log: (line: string) => void): Cleanups {
  const steps: (() => Promise<unknown>)[] = [];
  const run = async () => {
    for (const step of steps.reverse()) {
      await step().catch((err: unknown) => log(`cleanup step failed: ${String(err)}`));
    }
    steps.length = 0;
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      void run().finally(() => process.exit(130));
    });
  }
  return { steps, run };
}

/** The kubeconfig of the cluster to run on: E2E_KUBECONFIG's, else the local cluster's (started if needed). */
export async function clusterKubeconfig(log: (line: string) => void): Promise<string> {
  if (process.env.E2E_KUBECONFIG) {
    const path = resolve(process.env.E2E_KUBECONFIG);
    await waitUntilUsable(path);
    return path;
  }
  const { cluster, outcome, ms } = await upLocalCluster();
  log(`cluster ${cluster.name} ${outcome} in ${ms} ms`);
  return cluster.kubeconfigPath;
}
