// The three ways a manifest from git gets applied, run for real: kubectl apply (client-side), kubectl apply
// --server-side, and Flux's own apply engine (test/tools/go/flux-apply). None of them runs as the
// orchestrator: kubectl as a person, flux-apply as kustomize-controller's service account.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { V1Deployment } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { kubectlBinary } from "../chart/helm.ts";
import { runCommand, type CommandResult } from "../../harness/cluster/command.ts";
import { testKubeconfigPath } from "../support/testCluster.ts";

export const PERSON = "jane@example.com";
export const FLUX_IDENTITY = "system:serviceaccount:flux-system:kustomize-controller";
/** The field manager of the watcher's writes (core/kube.ts). */
export const ORCHESTRATOR_FIELD_MANAGER = "spot-orchestrator";

/** kubectl against the cluster under test, as a person (cluster-admin rights, not the orchestrator). */
export function kubectl(args: readonly string[], input?: string): Promise<CommandResult> {
  return runCommand(
    kubectlBinary(),
    ["--kubeconfig", testKubeconfigPath(), `--as=${PERSON}`, "--as-group=system:masters", ...args],
    input === undefined ? {} : { input },
  );
}

export interface FluxChange {
  subject: string;
  action: "created" | "configured" | "unchanged" | "deleted" | "skipped" | "unknown";
  live?: unknown;
  merged?: unknown;
}

export interface FluxResult {
  changes: FluxChange[];
  /** The apiserver's warnings (admission warnings among them), as kustomize-controller's client gets them. */
  warnings: string[];
}

/**
 * Applies the files the way kustomize-controller does (field manager `kustomize-controller`, apply only
 * on drift found by a server-side dry run); with `diff`, only that drift detection runs.
 */
export async function fluxApply(files: readonly string[], { diff = false } = {}): Promise<FluxResult> {
  const result = await runCommand("flux-apply", [
    "--kubeconfig",
    testKubeconfigPath(),
    "--as",
    FLUX_IDENTITY,
    "--as-group",
    "system:masters",
    ...(diff ? ["--diff"] : []),
    ...files,
  ]);
  if (result.code !== 0) throw new Error(`flux-apply failed (${result.code}): ${result.stderr.trim()}`);
  return JSON.parse(result.stdout) as FluxResult;
}

/** Writes the Deployment as a YAML manifest, as it would sit in git; returns its path. */
export function writeManifest(dir: string, deployment: V1Deployment): string {
  const path = join(dir, `${deployment.metadata!.name}.yaml`);
  writeFileSync(path, stringify({ apiVersion: "apps/v1", kind: "Deployment", ...deployment }));
  return path;
}
