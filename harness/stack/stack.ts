// The whole product running locally against a cluster: the SQS emulator, the webhook and the watcher as
// real processes (the CLI), the webhook registered with the apiserver by URL. Used by the e2e tests and the demo.
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { KubeConfig } from "@kubernetes/client-node";
import { loadKubeConfig, usernameOf } from "../cluster/kubeconfig.ts";
import { startSqsEmulator, type SqsEmulator } from "../sqs/emulator.ts";
import { freePort, startOrchestrator, waitUntilReady, type OrchestratorProcess } from "./process.ts";
import { registerWebhook, type WebhookRegistration } from "./webhookRegistration.ts";

export interface StackOptions {
  kc: KubeConfig;
  kubeconfigPath: string;
  /** The namespace the watcher watches, the webhook serves, and the leader Lease lives in. */
  namespace: string;
  logDir: string;
  /** Extra environment of the watcher (short intervals, Slack URL, ...). */
  watcherEnv?: Record<string, string>;
  /** Settings both processes read, as the chart's one config.toml gives them both (placement, fallback). */
  sharedEnv?: Record<string, string>;
  /** Start the watcher (default true). */
  watcher?: boolean;
  /**
   * The watcher's own kubeconfig, as a ServiceAccount's token would give it in a pod; by default it runs with
   * `kubeconfigPath`. The webhook keeps the `reason` of that kubeconfig's user's writes.
   */
  watcherKubeconfigPath?: string;
}

export interface Stack {
  sqs: SqsEmulator;
  sqsClient: SQSClient;
  queueUrl: string;
  webhook: OrchestratorProcess;
  watcher: OrchestratorProcess | undefined;
  watcherHealthPort: number;
  /** The environment the watcher runs with, to start more replicas. */
  watcherEnvironment: Record<string, string>;
  startWatcher(
    name?: string,
    env?: Record<string, string>,
  ): Promise<{ process: OrchestratorProcess; healthPort: number }>;
  send(body: unknown): Promise<void>;
  watcherMetrics(port?: number): Promise<string>;
  stop(): Promise<void>;
}

/** What to stop, in the order it was started; the stack stops it in reverse. */
type Stops = (() => Promise<unknown>)[];

export async function startStack(options: StackOptions): Promise<Stack> {
  const { kc, namespace, logDir } = options;
  const stops: Stops = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const username = await usernameOf(
      options.watcherKubeconfigPath ? loadKubeConfig(options.watcherKubeconfigPath) : kc,
    );
    const queue = await startQueue(namespace, stops);
    const webhook = await startWebhook(options, username, stops);
    const watcherEnvironment = watcherEnvironmentOf(options, queue, username);
    const startWatcher = watcherStarter(watcherEnvironment, logDir, stops);
    const first = options.watcher === false ? undefined : await startWatcher();
    const { sqs, sqsClient, queueUrl } = queue;
    return {
      sqs,
      sqsClient,
      queueUrl,
      webhook,
      watcher: first?.process,
      watcherHealthPort: first?.healthPort ?? 0,
      watcherEnvironment,
      startWatcher,
      async send(body) {
        await sqsClient.send(
          new SendMessageCommand({
            QueueUrl: queueUrl,
            MessageBody: typeof body === "string" ? body : JSON.stringify(body),
          }),
        );
      },
      async watcherMetrics(port = first?.healthPort) {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        return res.text();
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

interface StackQueue {
  sqs: SqsEmulator;
  queueUrl: string;
  sqsClient: SQSClient;
}

/** The SQS emulator and the namespace's interruption queue in it. */
async function startQueue(namespace: string, stops: Stops): Promise<StackQueue> {
  const sqs = await startSqsEmulator();
  stops.push(() => sqs.stop());
  const queueUrl = await sqs.createQueue(`interruptions-${namespace}`, { VisibilityTimeout: "30" });
  const sqsClient = sqs.client();
  stops.push(async () => sqsClient.destroy());
  return { sqs, queueUrl, sqsClient };
}

/** `spot-orchestrator webhook` with a self-signed certificate, registered with the apiserver by URL once ready. */
async function startWebhook(
  options: StackOptions,
  username: string,
  stops: Stops,
): Promise<OrchestratorProcess> {
  const { kc, namespace, logDir } = options;
  const certDir = await mkdtemp(join(tmpdir(), "spot-orchestrator-stack-"));
  const [port, healthPort] = [await freePort(), await freePort()];
  const webhook = startOrchestrator(
    "webhook",
    [
      "webhook",
      "--self-signed",
      "--cert-dir",
      certDir,
      "--port",
      String(port),
      "--health-port",
      String(healthPort),
    ],
    { env: { ...options.sharedEnv, ORCHESTRATOR_USERNAME: username }, logDir },
  );
  stops.push(() => webhook.stop());
  await waitUntilReady(webhook, `http://127.0.0.1:${healthPort}/readyz`);
  const caBundle = (await readFile(join(certDir, "ca.crt"))).toString("base64");
  const registration: WebhookRegistration = await registerWebhook(kc, {
    name: `spot-orchestrator-${namespace}`,
    baseUrl: `https://127.0.0.1:${port}`,
    caBundle,
    namespace,
  });
  stops.push(() => registration.remove());
  return webhook;
}

/** The environment every watcher of the stack runs with: the queue, the cluster, short intervals. */
function watcherEnvironmentOf(
  options: StackOptions,
  { sqs, queueUrl }: StackQueue,
  username: string,
): Record<string, string> {
  const { namespace } = options;
  return {
    SQS_QUEUE_URL: queueUrl,
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    KUBECONFIG: options.watcherKubeconfigPath ?? options.kubeconfigPath,
    NAMESPACE: namespace,
    POD_NAMESPACE: namespace,
    ORCHESTRATOR_USERNAME: username,
    CHECK_INTERVAL: "500ms",
    VERIFICATION_DELAY: "500ms",
    // a graceful stop lets the last long poll finish: short polls keep the suites' stops short
    SQS_RECEIVE_WAIT_TIME: "2s",
    ...options.sharedEnv,
    ...options.watcherEnv,
  };
}

/** Starts a `spot-orchestrator watcher` of the stack (stopped with it); resolves once it is ready. */
function watcherStarter(
  watcherEnvironment: Record<string, string>,
  logDir: string,
  stops: Stops,
): Stack["startWatcher"] {
  return async (name = "watcher", env: Record<string, string> = {}) => {
    const watcherHealthPort = await freePort();
    const process = startOrchestrator(name, ["watcher", "--health-port", String(watcherHealthPort)], {
      env: { ...watcherEnvironment, POD_NAME: name, ...env },
      logDir,
    });
    stops.push(() => process.stop());
    await waitUntilReady(process, `http://127.0.0.1:${watcherHealthPort}/readyz`);
    return { process, healthPort: watcherHealthPort };
  };
}

/** The value of one Prometheus sample (`name{labels}`) in a metrics text, 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const sample = Object.fromEntries(
      [...(match[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => sample[k] === v)) total += Number(match[4]);
  }
  return total;
}
