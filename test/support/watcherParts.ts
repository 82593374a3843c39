// Shared pieces of the watcher's integration tests: the watcher's parts wired as the watcher wires them
// (against the real apiserver), the project's real mutating webhook registered by URL, and an alerter that
// keeps what it was told.
import { optInScopeOf } from "../../core/config.ts";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import {
  AppsV1Api,
  EventsV1Api,
  type EventsV1Event,
  type KubeConfig,
  type V1Deployment,
  type V1Node,
} from "@kubernetes/client-node";
import { Annotation } from "../../core/contract.ts";
import { loadConfig, type Config } from "../../core/config.ts";
import { createKube, type Kube } from "../../core/kube.ts";
import type { Logger } from "../../core/log.ts";
import { createApp } from "../../webhook/app.ts";
import { createMetrics } from "../../webhook/metrics.ts";
import { REPORTING_CONTROLLER } from "../../watcher/alerts/kubeEvents.ts";
import { ClusterIndex } from "../../watcher/cluster/clusterIndex.ts";
import type { NodeIndex } from "../../watcher/cluster/nodeIndex.ts";

import type { DriftRepair } from "../../watcher/moves/drift.ts";
import type { FollowUps } from "../../watcher/moves/followUp.ts";
import type { Recovery } from "../../watcher/recovery/loop.ts";
import { leaderWork } from "../../watcher/lease/leaderTerm.ts";
import { createWatcherMetrics, type WatcherMetrics } from "../../watcher/metrics.ts";
import { InterruptionLog } from "../../watcher/recovery/interruptionLog.ts";
import type { InterruptionEvent } from "../../watcher/sqs/interruptionEvent.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { parseMessageBody } from "../../watcher/sqs/parseEvent.ts";
import { generateSelfSigned } from "../../webhook/selfSigned.ts";
import { usernameOf } from "../../harness/cluster/kubeconfig.ts";
import { quietLog } from "./log.ts";
import { testKubeconfigPath } from "./testCluster.ts";
import { instanceIdOf } from "../../harness/cluster/nodes.ts";
import { orchestratorMatchConditions } from "../../harness/cluster/match-conditions.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { recordingAlerter, recordingLifecycle, type RecordedAlerts } from "../watcher/fakes.ts";
import {
  applyMutatingWebhookConfiguration,
  deleteMutatingWebhookConfiguration,
} from "../../harness/cluster/webhook-config.ts";

/** The watcher's configuration as a test runs it: one namespace, short intervals. */
export function testConfig(namespace: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    env: {
      NAMESPACE: namespace,
      CHECK_INTERVAL: "500ms",
      VERIFICATION_DELAY: "0",
      ROLLOUT_TIMEOUT: "60s",
      // a move not done in time is followed this much longer (idle() waits for it)
      LATE_HEALTHY_GRACE: "3s",
      HEALTH_CHECK_RETRIES: "1",
      HEALTH_CHECK_INTERVAL: "200ms",
      POD_NAMESPACE: namespace,
      POD_NAME: "watcher-test",
      ...env,
    },
  });
}

export function testKube(): Kube {
  return createKube({ kubeconfig: testKubeconfigPath() });
}

export interface TestWatcher {
  config: Config;
  nodes: NodeIndex;
  followUps: FollowUps;
  drift: DriftRepair;
  recovery: Recovery;
  metrics: WatcherMetrics;
  alerts: RecordedAlerts;
  /** Lifecycle actions the watcher completed. */
  lifecycle: ReturnType<typeof recordingLifecycle>;
  /** Hands an event to the leader's handling, as the SQS consumer does. */
  handle(event: InterruptionEvent): Promise<void>;
  /** Follows the moves left in progress among the opted-in Deployments, as a new leader does. */
  resume(): Promise<number>;
  /** Deletes the drain guards a previous leader left, and keeps the deadlines of the rest, as a new leader does. */
  sweepGuards(): Promise<void>;
  /** Resolves once every follow-up, summary and Event started so far is done. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** The leader's intake and follow-ups over the real apiserver, built as a leader's term builds them. */
export async function startTestWatcher(config: Config, log: Logger = quietLog): Promise<TestWatcher> {
  const term = new AbortController();
  const kube = testKube();
  const metrics = createWatcherMetrics();
  const alerter = recordingAlerter();
  const cluster = new ClusterIndex({ kube, log: quietLog, scope: optInScopeOf(config) });
  cluster.start();
  await cluster.synced;
  const interruptions = new InterruptionLog(config.recovery.cooldown);
  const lifecycle = recordingLifecycle();
  const parts = { kube, cluster, interruptions, alerter, metrics, config, log, lifecycle };
  const work = leaderWork(parts, term.signal);
  const { migrator, followUps, recorder, deployments, drift, recovery, handleEvent, guards } = work;
  const idle = async () => {
    await migrator.idle();
    await followUps.idle();
    await recorder.idle();
  };
  return {
    config,
    nodes: cluster.nodes,
    followUps,
    drift,
    recovery,
    metrics,
    alerts: alerter,
    lifecycle,
    handle: (event) => handleEvent(event, { log, receivedAt: Date.now() }),
    resume: async () => followUps.resume(await deployments.list()).length,
    sweepGuards: async () => guards?.sweep(await deployments.list()),
    idle,
    async close() {
      term.abort();
      await idle();
      await guards?.stop();
      await cluster.stop();
    },
  };
}

/** An EventBridge event (a spot interruption warning by default) for the node, as the SQS consumer hands it over. */
export function interruptionFor(
  node: V1Node,
  kind: InterruptionEvent["kind"] = "spot-interruption",
): InterruptionEvent {
  const event = buildEventBridgeEvent({
    kind,
    instanceId: instanceIdOf(node),
    region: "eu-west-1",
    account: "123456789012",
  });
  return parseMessageBody(JSON.stringify(event));
}

export interface RunningWebhook {
  /** Stops answering, registered still: the apiserver's calls fail and failurePolicy Ignore stores writes as sent. */
  stopServing(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The project's mutating webhook (webhook/app.ts) served over TLS on loopback and registered by URL for one
 * namespace, as the chart registers it (CREATE and UPDATE of opted-in Deployments, failurePolicy Ignore).
 * Returns once the apiserver calls it.
 */
export async function startOrchestratorWebhook(
  kc: KubeConfig,
  config: Config,
  namespace: string,
): Promise<RunningWebhook> {
  const name = `watcher-test-${namespace}`;
  const tls = generateSelfSigned({ validDays: 1 });
  const app = createApp({
    placement: config.compute,
    orchestratorUsername: await usernameOf(kc),
    optIn: optInScopeOf(config),
    log: quietLog,
    metrics: createMetrics({ processMetrics: false }),
  });
  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await applyMutatingWebhookConfiguration(kc, {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name },
    webhooks: [
      {
        name: "mutate.deployments.spot-orchestrator.io",
        admissionReviewVersions: ["v1"],
        clientConfig: {
          url: `https://127.0.0.1:${port}/mutate`,
          caBundle: Buffer.from(tls.caPem).toString("base64"),
        },
        rules: [
          {
            apiGroups: ["apps"],
            apiVersions: ["v1"],
            resources: ["deployments"],
            operations: ["CREATE", "UPDATE"],
            scope: "Namespaced",
          },
        ],
        matchPolicy: "Equivalent",
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
        matchConditions: orchestratorMatchConditions(),
        failurePolicy: "Ignore",
        sideEffects: "None",
        timeoutSeconds: 5,
        reinvocationPolicy: "IfNeeded",
      },
    ],
  });
  // the apiserver picks configurations up asynchronously: dry-run a move until the template comes back placed
  const apps = kc.makeApiClient(AppsV1Api);
  const probe: V1Deployment = {
    metadata: {
      name: "webhook-probe",
      annotations: { [Annotation.enabled]: "true", [Annotation.compute]: "fargate" },
    },
    spec: {
      selector: { matchLabels: { app: "webhook-probe" } },
      template: {
        metadata: { labels: { app: "webhook-probe" } },
        spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
      },
    },
  };
  await waitFor("the orchestrator webhook to be called", async () => {
    const created = await apps.createNamespacedDeployment({ namespace, body: probe, dryRun: "All" });
    return (
      created.spec?.template.metadata?.labels?.[config.compute.computeLabelKey] ===
      config.compute.fargateLabel
    );
  });
  const stopServing = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    stopServing,
    async close() {
      await deleteMutatingWebhookConfiguration(kc, name);
      await stopServing();
    },
  };
}

/** The watcher's events.k8s.io Events regarding the Deployment. */
export async function eventsFor(kc: KubeConfig, deployment: V1Deployment): Promise<EventsV1Event[]> {
  const namespace = deployment.metadata?.namespace ?? "";
  const name = deployment.metadata?.name ?? "";
  const list = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace });
  return list.items.filter(
    (e: EventsV1Event) =>
      e.reportingController === REPORTING_CONTROLLER &&
      e.regarding?.kind === "Deployment" &&
      e.regarding.name === name,
  );
}
