import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Where `cluster:up` writes the admin kubeconfig (ignored by git). */
export const clusterDir = join(repoRoot, ".cluster");
export const defaultKubeconfigPath = join(clusterDir, "kubeconfig");
export const buildScript = join(repoRoot, "harness/cluster/build-binaries.sh");

/** One kwok cluster per checkout, so two worktrees on one machine never share (or delete) each other's. */
export function clusterName(): string {
  const fromEnv = process.env.SFO_CLUSTER_NAME;
  if (fromEnv) return fromEnv;
  return `sfo-${createHash("sha256").update(repoRoot).digest("hex").slice(0, 8)}`;
}
