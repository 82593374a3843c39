// The chart installed with the real helm into the cluster under test, and what of it is live.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { chartDir, helm, parseManifests, type KubeObject } from "../helm.ts";
import { testKubeconfigPath } from "../../support/testCluster.ts";
import { kubectl } from "./kubectl.ts";

export interface Release {
  name: string;
  namespace: string;
  /** `<release>-spot-fargate-orchestrator`: the name of every object of the release. */
  fullname: string;
}

/** Every kind the chart can create; namespaced and cluster-scoped, for `kubectl get`. */
export const chartKinds = [
  "deployments.apps",
  "replicasets.apps",
  "pods",
  "services",
  "configmaps",
  "secrets",
  "serviceaccounts",
  "roles.rbac.authorization.k8s.io",
  "rolebindings.rbac.authorization.k8s.io",
  "poddisruptionbudgets.policy",
  "certificates.cert-manager.io",
  "issuers.cert-manager.io",
  "servicemonitors.monitoring.coreos.com",
  "clusterroles.rbac.authorization.k8s.io",
  "clusterrolebindings.rbac.authorization.k8s.io",
  "mutatingwebhookconfigurations.admissionregistration.k8s.io",
  "validatingwebhookconfigurations.admissionregistration.k8s.io",
] as const;

async function run(args: string[]): Promise<string> {
  const result = await helm([...args, "--kubeconfig", testKubeconfigPath()]);
  if (result.code !== 0) throw new Error(`helm ${args[0]} failed (${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}

export function installRelease(release: Release, values: object, scratchDir: string): Promise<string> {
  return applyRelease("install", release, values, scratchDir);
}

/** `helm upgrade` with these values (the whole set, as a user's values file). */
export function upgradeRelease(release: Release, values: object, scratchDir: string): Promise<string> {
  return applyRelease("upgrade", release, values, scratchDir);
}

function applyRelease(
  verb: "install" | "upgrade",
  release: Release,
  values: object,
  scratchDir: string,
): Promise<string> {
  const valuesFile = join(scratchDir, `values-${release.name}-${verb}.json`);
  writeFileSync(valuesFile, JSON.stringify(values));
  return run([verb, release.name, chartDir, "--namespace", release.namespace, "--values", valuesFile]);
}

/** Uninstalls and waits until the objects are gone, dependents (ReplicaSets, pods) first. */
export async function uninstallRelease(release: Release): Promise<void> {
  await run([
    "uninstall",
    release.name,
    "--namespace",
    release.namespace,
    "--ignore-not-found",
    "--cascade=foreground",
    "--wait",
    "--timeout=60s",
  ]);
}

/** The manifests Helm stored for the release. */
export async function releaseManifests(release: Release): Promise<KubeObject[]> {
  return parseManifests(await run(["get", "manifest", release.name, "--namespace", release.namespace]));
}

/** `kind/name` of every live object carrying the release's instance label, in any namespace or none. */
export async function labelledObjects(release: Release): Promise<string[]> {
  const output = await kubectl([
    "get",
    chartKinds.join(","),
    "--all-namespaces",
    "--selector",
    `app.kubernetes.io/instance=${release.name}`,
    "--output",
    "name",
  ]);
  return output.split("\n").filter((line) => line !== "");
}

/** The objects of these manifests that exist in the cluster, as `Kind namespace/name`. */
export async function liveObjects(manifests: readonly KubeObject[], scratchDir: string): Promise<string[]> {
  const file = join(scratchDir, "release-manifests.json");
  writeFileSync(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: manifests }));
  const output = await kubectl(["get", "--filename", file, "--ignore-not-found", "--output", "json"]);
  // kubectl prints nothing at all when none of them exists
  const list = (output.trim() === "" ? {} : JSON.parse(output)) as { items?: KubeObject[] };
  return (list.items ?? []).map(objectRef);
}

export function objectRef(object: KubeObject): string {
  const { namespace, name } = object.metadata;
  return `${object.kind} ${namespace ? `${namespace}/` : ""}${name}`;
}
