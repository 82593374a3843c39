// Finds the helm binary built by harness/cluster/build-binaries.sh (or HELM_BIN) and runs it on the chart.
import { execFile } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { buildScript, repoRoot } from "../../harness/cluster/paths.ts";

export const chartDir = join(repoRoot, "charts/spot-fargate-orchestrator");

/** A version pinned in build-binaries.sh (`NAME="${NAME:-v1.2.3}"`), overridable by the same variable. */
export function pinnedVersion(
  name: "KUBE_VERSION" | "ETCD_VERSION" | "KWOK_VERSION" | "HELM_VERSION",
): string {
  const fromEnv = process.env[name];
  if (fromEnv) return fromEnv;
  const match = new RegExp(`${name}="\\$\\{${name}:-(v[^}]+)\\}"`).exec(readFileSync(buildScript, "utf8"));
  if (!match) throw new Error(`cannot find the ${name} pin in ${buildScript}`);
  return match[1]!;
}

/** The apiserver version the chart is rendered for (helm built without release flags reports v1.20). */
export const kubeVersion = pinnedVersion("KUBE_VERSION");

/** The folder build-binaries.sh builds into (same cache root and version key). */
export function binDir(): string {
  const cacheRoot =
    process.env.SFO_CACHE_DIR ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "spot-fargate-orchestrator");
  const folder =
    `k8s-${pinnedVersion("KUBE_VERSION")}-etcd-${pinnedVersion("ETCD_VERSION")}` +
    `-kwok-${pinnedVersion("KWOK_VERSION")}-helm-${pinnedVersion("HELM_VERSION")}`;
  return join(cacheRoot, "bin", folder);
}

function builtBinary(name: "helm" | "kubectl", override: string | undefined): string {
  if (override) return override;
  const path = join(binDir(), name);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    const variable = `${name.toUpperCase()}_BIN`;
    throw new Error(`${name} not found at ${path}: run \`npm run cluster:build\` or set ${variable}`);
  }
  return path;
}

export const helmBinary = (): string => builtBinary("helm", process.env.HELM_BIN);
export const kubectlBinary = (): string => builtBinary("kubectl", process.env.KUBECTL_BIN);

// Helm keeps its own config and cache; point them at a scratch folder so tests never read or write $HOME.
const helmHome = mkdtempSync(join(tmpdir(), "sfo-helm-"));
const helmEnv = {
  ...process.env,
  HELM_CACHE_HOME: join(helmHome, "cache"),
  HELM_CONFIG_HOME: join(helmHome, "config"),
  HELM_DATA_HOME: join(helmHome, "data"),
};

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function helm(args: readonly string[]): Promise<HelmResult> {
  return new Promise((resolve, reject) => {
    execFile(
      helmBinary(),
      args,
      { cwd: repoRoot, env: helmEnv, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
      },
    );
  });
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export const releaseName = "sfo";
export const releaseNamespace = "spot-system";

export interface RenderOptions {
  /** Release namespace (default spot-system). */
  namespace?: string;
  /** More `helm template` flags. */
  flags?: readonly string[];
}

/** Arguments of `helm template` for the chart with these values (written to a file, so types are kept). */
export function templateArgs(values: object = {}, options: RenderOptions = {}): string[] {
  const file = join(helmHome, `values-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(values));
  return [
    "template",
    releaseName,
    chartDir,
    "--namespace",
    options.namespace ?? releaseNamespace,
    "--kube-version",
    kubeVersion,
    "--values",
    file,
    ...(options.flags ?? []),
  ];
}

/** Renders the chart and parses every manifest; rejects with helm's message when rendering fails. */
export async function render(values: object = {}, options: RenderOptions = {}): Promise<KubeObject[]> {
  const result = await helm(templateArgs(values, options));
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}): ${result.stderr.trim()}`);
  return parseManifests(result.stdout);
}

export function parseManifests(text: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML from helm: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value as KubeObject);
  }
  return objects;
}

/** The one object of this kind (and name, if given); throws when there is not exactly one. */
export function one(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}, found ${found.length}`);
  }
  return found[0]!;
}

export function kinds(objects: readonly KubeObject[]): string[] {
  return objects.map((o) => o.kind).sort();
}

/** What `helm template` renders with the default values, sorted by kind. */
export const defaultReleaseKinds: readonly string[] = [
  "Certificate",
  "Certificate",
  "ClusterRole",
  "ClusterRoleBinding",
  "ConfigMap",
  "Deployment",
  "Issuer",
  "Issuer",
  "MutatingWebhookConfiguration",
  "PodDisruptionBudget",
  "Role",
  "RoleBinding",
  "Service",
  "ServiceAccount",
  "ValidatingWebhookConfiguration",
];
