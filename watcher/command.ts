// `spot-orchestrator watcher`: wires the watcher's parts together. Every replica keeps its node index warm and
// serves health and metrics; only the leader consumes SQS and runs the drift and recovery loops.
import { parseArgs } from "node:util";
import { loadConfig, type Config, type LoadOptions } from "../core/config.ts";
import { NodeLabel } from "../core/contract.ts";
import { createKube } from "../core/kube.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { waitForShutdownSignal } from "../core/signals.ts";
import { startHealthServer } from "../core/healthServer.ts";
import { createEventRecorder } from "./alerts/events.ts";
import { createSlackAlerter } from "./alerts/slack.ts";
import { NodeIndex } from "./cluster/nodeIndex.ts";
import { listOptedInDeployments } from "./cluster/optedIn.ts";
import { createDriftChecker } from "./drift.ts";
import { InterruptionLog } from "./interruptions.ts";
import { LeaderElector } from "./lease.ts";
import { createWatcherMetrics } from "./metrics.ts";
import { createMigrator } from "./migrate.ts";
import { Recovery } from "./recovery.ts";
import { SqsConsumer, createSqsClient } from "./sqs/consumer.ts";
import type { EventHandler } from "./types.ts";

const HELP = `Usage: spot-orchestrator watcher [flags]

  --config PATH         config.toml (also CONFIG_FILE)
  --kubeconfig PATH     kubeconfig (default: KUBECONFIG, ~/.kube/config, or in-cluster)
  --health-port N       plain-HTTP /healthz, /readyz, /metrics (default 8081)
  --dry-run             do everything but the writes
  -h, --help`;

export async function watcherCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      kubeconfig: { type: "string" },
      "health-port": { type: "string" },
      "dry-run": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return void console.log(HELP);
  const flags: LoadOptions["flags"] = {
    "watcher.health_port": values["health-port"],
    ...(values["dry-run"] ? { "migration.dry_run": "true" } : {}),
  };
  const config = loadConfig({ file: values.config, flags, process: "watcher" });
  const watcher = await startWatcher({ config, kubeconfig: values.kubeconfig });
  const signal = await waitForShutdownSignal();
  watcher.log.info({ signal }, "shutting down");
  await watcher.stop();
}

export interface RunningWatcher {
  log: Logger;
  healthPort: number;
  isLeader(): boolean;
  stop(): Promise<void>;
}

export async function startWatcher(options: {
  config: Config;
  kubeconfig?: string | undefined;
}): Promise<RunningWatcher> {
  const { config } = options;
  const log = createLogger(config.logging, { component: "watcher" });
  const metrics = createWatcherMetrics();
  const kube = createKube({
    kubeconfig: options.kubeconfig,
    qps: config.kubernetes.qps,
    burst: config.kubernetes.burst,
  });
  const identity = config.watcher.identity;
  const dryRun = config.migration.dryRun;
  if (dryRun) log.warn("dry run: nothing will be written to the cluster");

  const nodes = new NodeIndex({ kube, log });
  nodes.start();
  const alerter = createSlackAlerter({
    webhookUrl: config.alerts.slackWebhookUrl,
    enabled: config.alerts.enabled,
    maxPerMinute: config.alerts.maxPerMinute,
    log,
    metrics,
  });
  const events = createEventRecorder({ kube, identity, log, dryRun });
  const migrator = createMigrator({ kube, nodes, config, log, metrics, alerter, events });
  const interruptions = new InterruptionLog(config.recovery.cooldown);
  const scope = {
    namespaces: config.kubernetes.namespaces,
    deploymentName: config.kubernetes.deploymentName,
  };

  // Every interruption also feeds the recovery's storm guard, whatever happens to the message.
  const handler: EventHandler = async (event, context) => {
    const node = nodes.byInstanceId(event.instanceId);
    if (node?.metadata?.name && event.kind !== "rebalance-recommendation") {
      interruptions.record(node.metadata.name, node.metadata.labels?.[NodeLabel.zone]);
    }
    await migrator(event, context);
  };
  const consumer = new SqsConsumer({
    client: createSqsClient(config),
    queueUrl: config.aws.sqsQueueUrl,
    log,
    metrics,
    handler,
  });
  const drift = createDriftChecker({ kube, config, log, metrics, events });
  const recovery = new Recovery({
    kube,
    config,
    nodes,
    interruptions,
    recorder: events,
    alerter,
    metrics,
    log,
    listDeployments: () => listOptedInDeployments(kube, scope),
  });

  let leading = false;
  let consuming: Promise<void> | undefined;
  const startLeading = async () => {
    leading = true;
    await nodes.synced;
    log.info("leading: consuming events, checking drift, recovering");
    consuming = consumer.start();
    const resumed = await migrator
      .resume()
      .catch((err: unknown) => (log.error({ err }, "resuming follow-ups failed"), 0));
    if (resumed > 0) log.info({ resumed }, "following moves left in progress by the previous leader");
    drift.start();
    if (config.recovery.enabled) recovery.start();
  };
  const stopLeading = async () => {
    if (!leading) return;
    leading = false;
    await consumer.stop();
    await consuming;
    await Promise.all([drift.stop(), recovery.stop()]);
    migrator.stop();
  };

  const elector = config.watcher.leaderElection
    ? new LeaderElector({
        kube,
        namespace: config.watcher.leaseNamespace,
        name: config.watcher.leaseName,
        identity,
        onStartedLeading: startLeading,
        onStoppedLeading: stopLeading,
        log,
        metrics,
      })
    : undefined;
  let synced = false;
  void nodes.synced.then(() => (synced = true));
  const health = await startHealthServer({
    port: config.watcher.healthPort,
    registry: metrics.registry,
    isReady: () => synced,
    log,
  });
  const campaign = elector ? elector.run() : startLeading();
  campaign.catch((err: unknown) => log.error({ err }, "leader election stopped"));

  return {
    log,
    healthPort: health.port,
    isLeader: () => leading,
    async stop() {
      if (elector) await elector.release();
      else await stopLeading();
      await migrator.idle();
      await alerter.flush(5_000);
      await nodes.stop();
      await health.close();
      log.info("stopped");
    },
  };
}
