// The webhook and watcher processes started the way the chart's pod starts them: its config.toml (from the
// release's ConfigMap), its TLS Secret as files, its environment, and its ServiceAccount's credentials.
import type { X509Certificate } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Container } from "@kubernetes/client-node";
import {
  freePort,
  runCli,
  startOrchestrator,
  waitUntilReady,
  type OrchestratorProcess,
} from "../../../harness/stack/process.ts";
import type { Release } from "./release.ts";

export interface ChartPod {
  configFile: string;
  serviceAccount: string;
  /** Plain `value` environment variables of each container, by container name. */
  env: Record<string, Record<string, string>>;
  /** The TLS Secret the pod mounts at /tls. */
  tls: { namespace: string; name: string };
  /** Folder of tls.crt / tls.key, as the pod mounts the TLS Secret at /tls. */
  tlsDir: string;
}

/** Reads what the release's pod would get: the ConfigMap, the TLS Secret, the containers' environment. */
export async function chartPod(kc: KubeConfig, release: Release, dir: string): Promise<ChartPod> {
  const core = kc.makeApiClient(CoreV1Api);
  const { namespace, fullname } = release;
  const deployment = await kc
    .makeApiClient(AppsV1Api)
    .readNamespacedDeployment({ namespace, name: fullname });
  const podSpec = deployment.spec?.template.spec;
  const volume = (name: string) => podSpec?.volumes?.find((v) => v.name === name);

  const configMap = await core.readNamespacedConfigMap({
    namespace,
    name: volume("config")?.configMap?.name ?? "",
  });
  const toml = configMap.data?.["config.toml"];
  if (!toml) throw new Error(`ConfigMap ${namespace}/${configMap.metadata?.name} has no config.toml`);
  const configFile = join(dir, "config.toml");
  writeFileSync(configFile, toml);

  const tls = { namespace, name: volume("tls")?.secret?.secretName ?? "" };
  const tlsDir = join(dir, "tls");
  await syncTlsFiles(kc, { tls, tlsDir });

  const plainEnv = (container: V1Container) =>
    Object.fromEntries(
      (container.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])),
    );
  return {
    configFile,
    serviceAccount: podSpec?.serviceAccountName ?? "default",
    env: Object.fromEntries((podSpec?.containers ?? []).map((c) => [c.name, plainEnv(c)])),
    tls,
    tlsDir,
  };
}

/** Writes the TLS Secret's tls.crt and tls.key into the pod's /tls folder, as the kubelet does on each change. */
export async function syncTlsFiles(kc: KubeConfig, pod: Pick<ChartPod, "tls" | "tlsDir">): Promise<void> {
  const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret(pod.tls);
  mkdirSync(pod.tlsDir, { recursive: true });
  for (const key of ["tls.crt", "tls.key"]) {
    const data = secret.data?.[key];
    if (!data) throw new Error(`Secret ${pod.tls.namespace}/${pod.tls.name} has no ${key}`);
    // each file replaced by a rename, so the webhook never reads half of one (it waits for a matching pair)
    const file = join(pod.tlsDir, key);
    writeFileSync(`${file}.tmp`, Buffer.from(data, "base64"), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }
}

// The SQS emulator accepts any credentials; the watcher's AWS SDK needs some to sign with.
const dummyAwsCredentials = { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };

/** What the downward API gives the pod: POD_NAMESPACE and POD_NAME. */
function podEnv(pod: ChartPod, container: string, release: Release, podName: string): Record<string, string> {
  return { ...pod.env[container], POD_NAMESPACE: release.namespace, POD_NAME: podName };
}

export interface RunningProcess {
  process: OrchestratorProcess;
  healthPort: number;
}

export async function startChartWebhook(
  pod: ChartPod,
  release: Release,
  options: { port: number; logDir: string; podName: string },
): Promise<RunningProcess> {
  const healthPort = await freePort();
  const child = startOrchestrator(
    "webhook",
    [
      "webhook",
      "--config",
      pod.configFile,
      "--port",
      String(options.port),
      "--health-port",
      String(healthPort),
      "--tls-cert",
      join(pod.tlsDir, "tls.crt"),
      "--tls-key",
      join(pod.tlsDir, "tls.key"),
    ],
    { env: podEnv(pod, "webhook", release, options.podName), logDir: options.logDir },
  );
  await waitUntilReady(child, `http://127.0.0.1:${healthPort}/readyz`, 20_000);
  return { process: child, healthPort };
}

export async function startChartWatcher(
  pod: ChartPod,
  release: Release,
  options: { kubeconfig: string; logDir: string; podName: string },
): Promise<RunningProcess> {
  const healthPort = await freePort();
  const child = startOrchestrator(
    "watcher",
    [
      "watcher",
      "--config",
      pod.configFile,
      "--kubeconfig",
      options.kubeconfig,
      "--health-port",
      String(healthPort),
    ],
    {
      env: { ...podEnv(pod, "watcher", release, options.podName), ...dummyAwsCredentials },
      logDir: options.logDir,
    },
  );
  // Ready means the node index has synced: the watcher could list and watch nodes.
  await waitUntilReady(child, `http://127.0.0.1:${healthPort}/readyz`, 20_000);
  return { process: child, healthPort };
}

/** `spot-orchestrator doctor` with the pod's config and credentials; its exit code and report. */
export function runChartDoctor(
  pod: ChartPod,
  release: Release,
  options: { kubeconfig: string; podName: string },
): Promise<{ code: number; output: string }> {
  return runCli(
    ["doctor", "--config", pod.configFile, "--kubeconfig", options.kubeconfig],
    {
      ...podEnv(pod, "watcher", release, options.podName),
      ...dummyAwsCredentials,
    },
    30_000,
  );
}

/**
 * Connects to the webhook as the apiserver does, trusting only `caPem` and checking `serverName`; resolves
 * with the certificate it presented, rejects when it is not valid for that name under that CA.
 */
export function presentedCertificate(
  port: number,
  serverName: string,
  caPem: string,
): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: serverName, ca: caPem }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (cert) resolve(cert);
      else reject(new Error(`no certificate from 127.0.0.1:${port}`));
    });
    socket.on("error", reject);
  });
}
