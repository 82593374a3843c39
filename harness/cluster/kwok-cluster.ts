import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import { binary } from "./binaries.ts";
import { apiserverAnswers, loadKubeConfig } from "./kubeconfig.ts";
import { kwokStages } from "./kwok-stages.ts";
import { kwokNodeAnnotation } from "./nodes.ts";
import { waitFor } from "./wait.ts";

const execFileAsync = promisify(execFile);

const kwokNodeSelector = Object.entries(kwokNodeAnnotation)
  .map(([key, value]) => `${key}=${value}`)
  .join(",");

export interface KwokCluster {
  name: string;
  binDir: string;
  kubeconfigPath: string;
}

/** How `clusterUp` got a running cluster: found it answering, started a stopped one, or created it. */
export type UpOutcome = "reused" | "restarted" | "created";

export async function clusterUp(cluster: KwokCluster): Promise<UpOutcome> {
  const config = kwokctlConfig();
  if ((await createdFrom(cluster)) === hashOf(config)) {
    const outcome = await reuseOrRestart(cluster);
    if (outcome) return outcome;
  } else if ((await listClusters(cluster)).includes(cluster.name)) {
    // made with other stages or options: reusing it would test another emulation than this checkout's
    process.stderr.write(
      `[cluster] '${cluster.name}' was created from another kwokctl config: recreating it\n`,
    );
    await clusterDown(cluster);
  }
  await mkdir(dirname(cluster.kubeconfigPath), { recursive: true });
  await writeFile(kwokctlConfigPath(cluster), config);
  await kwokctl(cluster, ["create", "cluster", ...createArgs(cluster)]);
  await writeFile(configHashPath(cluster), `${hashOf(config)}\n`);
  await writeKubeconfig(cluster);
  await waitUntilUsable(cluster.kubeconfigPath);
  return "created";
}

/** The cluster as it is when it answers, started again when it is stopped; undefined when neither works. */
async function reuseOrRestart(cluster: KwokCluster): Promise<UpOutcome | undefined> {
  if (await apiserverAnswers(cluster.kubeconfigPath)) return "reused";
  if (!(await listClusters(cluster)).includes(cluster.name)) return undefined;
  try {
    await kwokctl(cluster, ["start", "cluster", "--name", cluster.name]);
    await writeKubeconfig(cluster);
    await waitUntilUsable(cluster.kubeconfigPath);
    return "restarted";
  } catch (err) {
    process.stderr.write(`[cluster] restarting '${cluster.name}' failed, recreating it: ${String(err)}\n`);
    await clusterDown(cluster);
    return undefined;
  }
}

export async function clusterDown(cluster: KwokCluster): Promise<void> {
  await rm(cluster.kubeconfigPath, { force: true });
  await rm(configHashPath(cluster), { force: true });
  if (!(await listClusters(cluster)).includes(cluster.name)) return;
  await kwokctl(cluster, ["delete", "cluster", "--name", cluster.name]);
}

function createArgs(cluster: KwokCluster): string[] {
  const bin = (name: Parameters<typeof binary>[1]) => binary(cluster.binDir, name);
  return [
    "--name",
    cluster.name,
    "--runtime",
    "binary",
    "--config",
    kwokctlConfigPath(cluster),
    // exactly these components, every one from the local build (kwokctl downloads whatever is unset)
    "--components",
    "etcd,kube-apiserver,kube-controller-manager,kube-scheduler,kwok-controller",
    "--kube-apiserver-binary",
    bin("kube-apiserver"),
    "--kube-controller-manager-binary",
    bin("kube-controller-manager"),
    "--kube-scheduler-binary",
    bin("kube-scheduler"),
    "--etcd-binary",
    bin("etcd"),
    "--kwok-controller-binary",
    bin("kwok"),
    // kwokctl has kwok manage every node; only nodes annotated like the helpers' should be faked
    "--extra-args",
    "kwok-controller=manage-all-nodes=false",
    "--extra-args",
    `kwok-controller=manage-nodes-with-annotation-selector=${kwokNodeSelector}`,
    "--kube-authorization",
    "--kube-admission",
    "--secure-port",
    // keep ~/.kube/config untouched; the admin kubeconfig is written to the project folder instead
    "--kubeconfig=",
    "--wait=2m",
  ];
}

function kwokctlConfigPath(cluster: KwokCluster): string {
  return join(dirname(cluster.kubeconfigPath), "kwokctl.yaml");
}

/** Beside the kubeconfig: the hash of the kwokctl config the running cluster was created from. */
function configHashPath(cluster: KwokCluster): string {
  return join(dirname(cluster.kubeconfigPath), "kwokctl.yaml.sha256");
}

/** Options without a command-line flag (every component on loopback only), then the cluster's Stages. */
function kwokctlConfig(): string {
  return [
    "kind: KwokctlConfiguration",
    "apiVersion: config.kwok.x-k8s.io/v1alpha1",
    "options:",
    "  bindAddress: 127.0.0.1",
    kwokStages(),
  ].join("\n");
}

function hashOf(config: string): string {
  return createHash("sha256").update(config).digest("hex");
}

async function createdFrom(cluster: KwokCluster): Promise<string | undefined> {
  return (await readFile(configHashPath(cluster), "utf8").catch(() => undefined))?.trim();
}

async function writeKubeconfig(cluster: KwokCluster): Promise<void> {
  const kubeconfig = await kwokctl(cluster, ["get", "kubeconfig", "--name", cluster.name]);
  await mkdir(dirname(cluster.kubeconfigPath), { recursive: true });
  await writeFile(cluster.kubeconfigPath, kubeconfig, { mode: 0o600 });
}

async function listClusters(cluster: KwokCluster): Promise<string[]> {
  const out = await kwokctl(cluster, ["get", "clusters"]);
  return out
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
}

/** Ready means: the apiserver answers and the controllers have created the default service account. */
export async function waitUntilUsable(kubeconfigPath: string): Promise<void> {
  await waitFor("the apiserver to answer", () => apiserverAnswers(kubeconfigPath), { timeoutMs: 120_000 });
  const core = loadKubeConfig(kubeconfigPath).makeApiClient(CoreV1Api);
  await waitFor(
    "the default service account",
    () => core.readNamespacedServiceAccount({ namespace: "default", name: "default" }),
    { timeoutMs: 120_000 },
  );
}

async function kwokctl(cluster: KwokCluster, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(binary(cluster.binDir, "kwokctl"), args, {
      // kubectl and friends resolve from the local build too
      env: { ...process.env, KWOK_KUBE_BINARY_PREFIX: cluster.binDir },
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`kwokctl ${args.join(" ")} failed: ${stderr.trim() || String(err)}`, { cause: err });
  }
}
