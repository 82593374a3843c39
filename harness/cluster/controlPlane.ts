// Freezes the local control plane (SIGSTOP) as an apiserver that stops answering would, and thaws it.
// The controller-manager and scheduler are frozen with it: left running, they would lose their own
// leader leases past the renew deadline and exit, and the shared cluster with them.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { clusterName } from "./paths.ts";

const FROZEN = ["kube-controller-manager", "kube-scheduler", "kube-apiserver"] as const;

export interface FrozenControlPlane {
  /** Thaws the apiserver first, then the rest; safe to call twice. */
  thaw(): void;
}

function pidOf(component: string): number {
  const dir = join(process.env.KWOK_WORKDIR ?? join(homedir(), ".kwok"), "clusters", clusterName(), "pids");
  try {
    return Number(readFileSync(join(dir, `${component}.pid`), "utf8").trim());
  } catch (err) {
    throw new Error(
      `no ${component} process of the local cluster ${clusterName()} (${dir}): freezing the control plane ` +
        `needs the local kwok cluster, not E2E_KUBECONFIG`,
      { cause: err },
    );
  }
}

export function freezeControlPlane(): FrozenControlPlane {
  const pids = FROZEN.map((component) => ({ component, pid: pidOf(component) }));
  let frozen = true;
  const thaw = () => {
    if (!frozen) return;
    frozen = false;
    process.off("exit", thaw);
    for (const { pid } of [...pids].reverse()) process.kill(pid, "SIGCONT");
  };
  // never leave the shared cluster frozen, whatever happens to the test
  process.on("exit", thaw);
  for (const { pid } of pids) process.kill(pid, "SIGSTOP");
  return { thaw };
}

/** Whether every control-plane process of the local cluster is still alive. */
export function controlPlaneAlive(): boolean {
  return FROZEN.every((component) => {
    try {
      process.kill(pidOf(component), 0);
      return true;
    } catch {
      return false;
    }
  });
}
