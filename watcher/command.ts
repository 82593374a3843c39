// `spot-orchestrator watcher`: wires the watcher's parts together. Every replica keeps its node index warm and
// serves health and metrics; only the leader consumes SQS and runs the drift and recovery loops.
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { CLUSTER_FLAGS } from "../core/commandLine.ts";
import { loadConfig, type Config, type LoadOptions } from "../core/config.ts";
import { createKube } from "../core/kube.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { waitForShutdownSignal } from "../core/signals.ts";
import { startHealthServer } from "../core/healthServer.ts";
import { createAlerter } from "./alerts/createAlerter.ts";
import { ClusterIndex } from "./cluster/clusterIndex.ts";

import { LeaderElector } from "./lease/leaderElection.ts";
import { LeaderTerm, type WatcherParts } from "./lease/leaderTerm.ts";
import { createWatcherMetrics } from "./metrics.ts";
import { AutoScalingLifecycle, createAutoScalingClient } from "./migration/lifecycleActions.ts";
import { queueAnnotations } from "./lease/queueOnLease.ts";
import { InterruptionLog } from "./recovery/interruptionLog.ts";
import { settingsAnnotations } from "./lease/settingsOnLease.ts";
import { createSqsClient } from "./sqs/queue.ts";
import { optInScopeOf } from "../core/config.ts";

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
      ...CLUSTER_FLAGS,
      "health-port": { type: "string" },
      "dry-run": { type: "boolean" },
    },
  });
  if (values.help) return void console.log(HELP);
  // a long-lived process whose work is I/O: V8's heuristics for size over speed (smaller heap growth
  // steps) keep its peak memory through a storm down at little CPU (README, storms). Not allowed in
  // NODE_OPTIONS, so set here, before the indexes fill the heap.
  setFlagsFromString("--optimize-for-size");
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
  stop(): Promise<void>;
}

/** What lives as long as the process: clients, the cluster index, the alerter, the lifecycle completions. */
function processParts(config: Config, kubeconfig: string | undefined, log: Logger) {
  const metrics = createWatcherMetrics();
  const kube = createKube({ kubeconfig, qps: config.kubernetes.qps, burst: config.kubernetes.burst });
  const cluster = new ClusterIndex({ kube, log, scope: optInScopeOf(config) });
  const { alerts } = config;
  const alerter = createAlerter({ ...alerts, webhookUrl: alerts.slackWebhookUrl, log, metrics });
  const autoScaling = createAutoScalingClient(config);
  const lifecycle = new AutoScalingLifecycle({
    client: autoScaling,
    alerter,
    metrics,
    dryRun: config.migration.dryRun,
  });
  const parts: WatcherParts = {
    kube,
    sqs: createSqsClient(config),
    lifecycle,
    cluster,
    interruptions: new InterruptionLog(config.recovery.cooldown),
    alerter,
    metrics,
    config,
    log,
  };
  return { parts, cluster, autoScaling };
}

/** Leading, term by term: elected over the Lease, or (leader election off) for as long as the process runs. */
function leadership(parts: WatcherParts) {
  const { config, kube, log } = parts;
  let term: LeaderTerm | undefined;
  const lead = async (signal: AbortSignal) => {
    term = new LeaderTerm(parts, signal);
    await term.start();
  };
  const stopLeading = async () => {
    const ended = term;
    term = undefined;
    await ended?.end();
  };
  const { leaderElection, leaseNamespace, leaseName, identity } = config.watcher;
  const elector = leaderElection
    ? new LeaderElector({
        kube,
        namespace: leaseNamespace,
        name: leaseName,
        identity,
        annotations: () => ({
          ...settingsAnnotations(config),
          ...queueAnnotations(config.aws.sqsQueueUrl, term?.queueState ?? { state: "unknown" }),
        }),
        onStartedLeading: lead,
        onStoppedLeading: stopLeading,
        log,
      })
    : undefined;
  const solo = elector ? undefined : new AbortController();
  return {
    run: () => (elector ? elector.run() : lead(solo!.signal)),
    /**
     * A graceful hand-over: the last poll ends and what it got is released, and events being handled finish
     * (their flips stored), before the Lease is freed.
     */
    async stop() {
      await term?.drain();
      if (elector) await elector.release();
      else {
        solo!.abort(new Error("shutting down"));
        await stopLeading();
      }
    },
  };
}

export async function startWatcher(options: {
  config: Config;
  kubeconfig?: string | undefined;
}): Promise<RunningWatcher> {
  const { config } = options;
  const log = createLogger(config.logging, { component: "watcher" });
  if (config.migration.dryRun) log.warn("dry run: nothing will be written to the cluster");
  const { parts, cluster, autoScaling } = processParts(config, options.kubeconfig, log);
  const { alerter, metrics } = parts;
  cluster.start();
  const leading = leadership(parts);
  let synced = false;
  void cluster.synced.then(() => (synced = true));
  const health = await startHealthServer({
    port: config.watcher.healthPort,
    registry: metrics.registry,
    isReady: () => synced,
    log,
  });
  leading.run().catch((err: unknown) => log.error({ err }, "leading stopped"));

  return {
    log,
    healthPort: health.port,
    async stop() {
      await leading.stop();
      await alerter.flush(5_000);
      await cluster.stop();
      await health.close();
      parts.sqs.destroy();
      autoScaling.destroy();
      log.info("stopped");
    },
  };
}
