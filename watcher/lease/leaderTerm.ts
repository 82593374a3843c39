// What the leader runs, from winning the Lease to losing or releasing it: the SQS intake, the follow-ups,
// drift repair and recovery. Everything in a term works through clients bound to the term's signal, so
// the moment leadership ends every write stops, also those of work still under way (controller-runtime
// exits the process instead; here the webhook shares the pod, and a restarting container would take the
// pod's admission endpoints down with it). A term is never restarted: each leadership gets a new one.
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { V1ObjectReference } from "@kubernetes/client-node";
import type { Config } from "../../core/config.ts";
import { withSignal, type Kube } from "../../core/kube.ts";
import type { Logger } from "../../core/log.ts";
import { settleWithin } from "../../core/settleWithin.ts";
import type { Alerter } from "../alerts/alerter.ts";
import { EventRecorder } from "../alerts/kubeEvents.ts";
import { affectedDeployments, ReplicaSetOwners } from "../cluster/affectedDeployments.ts";
import type { ClusterLookup } from "../cluster/clusterIndex.ts";
import { priorityClasses } from "../cluster/priorityClasses.ts";
import { KubeDeployments } from "../moves/deployments.ts";
import { DrainGuards } from "../moves/drainGuard.ts";
import { DriftRepair } from "../moves/drift.ts";
import { eventHandling } from "../migration/eventHandling.ts";
import { summarizeMigrations } from "../migration/report.ts";
import { FollowUps } from "../moves/followUp.ts";
import { reportGivenUp } from "../alerts/givenUp.ts";
import type { LifecycleActions } from "../migration/lifecycleActions.ts";
import { clearInventory, withInventory } from "../cluster/inventory.ts";
import type { WatcherMetrics } from "../metrics.ts";
import { Migrator } from "../migration/migrator.ts";
import { queueAlarm } from "../alerts/queueAlarm.ts";
import type { InterruptionLog } from "../recovery/interruptionLog.ts";
import { Recovery } from "../recovery/loop.ts";
import { nextRecoveryOf } from "../recovery/policy.ts";
import { indexedReads, rolloutFollower } from "../moves/rollout.ts";
import { SqsConsumer } from "../sqs/consumer.ts";
import { QueueReachability, type QueueState } from "../sqs/reachability.ts";
import { optInScopeOf } from "../../core/config.ts";

/** What lives as long as the process and every term shares. */
export interface WatcherParts {
  kube: Kube;
  sqs: SQSClient;
  lifecycle: LifecycleActions;
  cluster: ClusterLookup;
  interruptions: InterruptionLog;
  alerter: Alerter;
  metrics: WatcherMetrics;
  config: Config;
  log: Logger;
}

/** How long the end of a term waits for its work to notice; its writes are refused either way. */
const WIND_DOWN_MS = 5_000;

/** The watcher's own Pod (POD_NAME, POD_NAMESPACE, POD_UID), where Events about the watcher itself go. */
export function ownPod(config: Pick<Config, "watcher">): V1ObjectReference {
  const { leaseNamespace, identity, podUid } = config.watcher;
  return {
    apiVersion: "v1",
    kind: "Pod",
    namespace: leaseNamespace,
    name: identity,
    ...(podUid ? { uid: podUid } : {}),
  };
}

/** The leader's components of one term, every one working through clients bound to `signal`. */
export function leaderWork(parts: Omit<WatcherParts, "sqs">, signal: AbortSignal) {
  const { config, log, metrics, alerter, cluster, interruptions, lifecycle } = parts;
  const { nodes } = cluster;
  const kube = withSignal(parts.kube, signal);
  const scope = optInScopeOf(config);
  const deployments = withInventory(new KubeDeployments(kube, scope), metrics, signal);
  const { identity } = config.watcher;
  const recorder = new EventRecorder({ kube, identity, log, dryRun: config.migration.dryRun });
  const followRollout = rolloutFollower(kube, config, indexedReads(kube, cluster));
  const common = { deployments, recorder, alerter, metrics, config, log, signal };
  const guards =
    config.migration.drainGuard && !config.migration.dryRun
      ? new DrainGuards({ kube, pods: cluster.pods, scope, metrics, log })
      : undefined;
  const nextRecovery = nextRecoveryOf(config.recovery);
  const followUps = new FollowUps({ ...common, followRollout, guards, nextRecovery });
  const lookups = { ...cluster, owners: new ReplicaSetOwners(kube), scope };
  const concurrency = config.migration.maxConcurrentFlips;
  const affectedBy = (node: string) => affectedDeployments(node, lookups, concurrency);
  const listPods = async () => cluster.pods.all();
  const classPriority = () => priorityClasses(kube);
  const migrator = new Migrator({ ...common, affectedBy, classPriority, nodes, followUps, guards });
  return {
    deployments,
    guards,
    recorder,
    followUps,
    migrator,
    handleEvent: eventHandling({ nodes, interruptions, migrator, lifecycle, alerter, config, signal }),
    drift: new DriftRepair(common),
    recovery: new Recovery({ ...common, listPods, nodes, interruptions, followUps }),
  };
}

export class LeaderTerm {
  private readonly parts: WatcherParts;
  private readonly signal: AbortSignal;
  private readonly work: ReturnType<typeof leaderWork>;
  private readonly reachability: QueueReachability;
  private readonly consumer: SqsConsumer;
  private consuming: Promise<void> = Promise.resolve();

  /** `signal`: aborted when the term ends. */
  constructor(parts: WatcherParts, signal: AbortSignal) {
    this.parts = parts;
    this.signal = signal;
    this.work = leaderWork(parts, signal);
    const { config, log, metrics, alerter, cluster } = parts;
    signal.addEventListener(
      "abort",
      () => {
        metrics.isLeader.set(0);
        metrics.queueUnreachable.set(0);
        clearInventory(metrics);
      },
      { once: true },
    );
    const pod = ownPod(config);
    const queueUrl = config.aws.sqsQueueUrl;
    const { recorder } = this.work;
    this.reachability = new QueueReachability(
      config.aws.queueUnreachableAfter,
      queueAlarm({ queueUrl, pod, recorder, alerter, metrics, log }),
    );
    this.consumer = new SqsConsumer({
      client: parts.sqs,
      queueUrl,
      concurrency: config.aws.maxEventsInFlight,
      parallelReceives: config.aws.parallelReceives,
      waitTimeSeconds: Math.round(config.aws.receiveWaitTime / 1000),
      log,
      metrics,
      handler: this.work.handleEvent,
      onGivenUp: (event, failure, context) =>
        reportGivenUp({ nodes: cluster.nodes, pod, recorder, alerter }, event, failure, context),
      reachability: this.reachability,
    });
  }

  /** Whether the queue can be read, for the Lease. */
  get queueState(): QueueState {
    return this.reachability.state;
  }

  /** Starts the leader's work once the cluster index has listed nodes, pods and Deployments. */
  async start(): Promise<void> {
    const { cluster, config, log, metrics } = this.parts;
    metrics.isLeader.set(1);
    await Promise.race([cluster.synced, aborted(this.signal)]);
    if (this.signal.aborted) return;
    log.info("leading: consuming events, checking drift, recovering");
    this.consuming = this.consumer.start();
    if (!config.migration.dryRun) await this.resume();
    if (this.signal.aborted) return;
    this.work.drift.start();
    if (config.recovery.enabled) this.work.recovery.start();
  }

  /**
   * For a graceful hand-over, before `end`: stops taking events (the last poll ends, and what it got is
   * released for the next leader) and lets those being handled finish.
   */
  async drain(): Promise<void> {
    await this.consumer.stop();
    await this.consuming;
  }

  /** After the signal is aborted: waits (briefly) for the term's work to stop. Nothing of it writes any more. */
  async end(): Promise<void> {
    const { log } = this.parts;
    const { drift, recovery, followUps, migrator, recorder, guards } = this.work;
    const wound = await settleWithin(
      [
        this.consumer.abort(),
        this.consuming,
        drift.stop(),
        recovery.stop(),
        followUps.idle(),
        recovery.idle(),
        migrator.idle(),
        recorder.idle(),
        guards?.stop() ?? Promise.resolve(),
      ],
      WIND_DOWN_MS,
    );
    if (!wound) log.warn("some of the leader's work is still winding down; none of it can write any more");
  }

  /** Follows the moves a previous leader left in progress, and deletes the drain guards it left. */
  private async resume(): Promise<void> {
    const { log, alerter } = this.parts;
    try {
      const listed = await this.work.deployments.list();
      await this.work.guards?.sweep(listed).catch((err: unknown) => {
        if (!this.signal.aborted) log.error({ err }, "finding drain guards left by a previous leader failed");
      });
      const verdicts = this.work.followUps.resume(listed);
      if (verdicts.length > 0) log.info({ resumed: verdicts.length }, "following moves left in progress");
      void summarizeMigrations(alerter, verdicts, "interrupted nodes");
    } catch (err) {
      if (!this.signal.aborted) log.error({ err }, "listing moves left in progress failed");
    }
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}
