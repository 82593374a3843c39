import { access, constants } from "node:fs/promises";
import { join } from "node:path";
import { runScript } from "./command.ts";
import { buildScript } from "./paths.ts";

export const controlPlaneBinaries = [
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "etcd",
  "kwok",
  "kwokctl",
  "kubectl",
  "helm",
] as const;

export type Binary = (typeof controlPlaneBinaries)[number];

/**
 * Builds (or finds already built) the control plane binaries and returns their folder.
 * Progress goes to stderr; a failed build rejects, so a test run never silently skips.
 */
export async function ensureBinaries(): Promise<string> {
  const stdout = await runScript("bash", [buildScript]);
  const binDir = stdout.trim().split("\n").at(-1) ?? "";
  for (const name of controlPlaneBinaries) {
    await access(join(binDir, name), constants.X_OK).catch(() => {
      throw new Error(`build-binaries.sh finished but ${name} is missing from '${binDir}'`);
    });
  }
  return binDir;
}

export function binary(binDir: string, name: Binary): string {
  return join(binDir, name);
}
