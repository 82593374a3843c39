// The recovery loop (leader only): Deployments on Fargate or on-demand nodes go back to spot when spot really has room, a
// bounded batch at a time. Each pass first follows again any move left in progress that nobody follows;
// every Deployment it leaves alone is logged (debug) with the reason. How an attempt ends is the
// follow-ups' business (verdict, rollback, Event, alert).
import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import { Annotation, EventReason, isOffSpot, requestedCompute } from "../../core/contract.ts";
import type { Config } from "../../core/config.ts";
import { statusOf } from "../../core/kube.ts";
import type { Logger } from "../../core/log.ts";
import { place } from "../../core/placement.ts";
import { rfc3339 } from "../../core/time.ts";
import type { EventRecorder } from "../alerts/kubeEvents.ts";
import type { NodeLookup } from "../cluster/nodeIndex.ts";
import { keyOf, refOf, type Deployments } from "../moves/deployments.ts";
import type { FollowUps } from "../moves/followUp.ts";
import { recoveryPatch, type WriteContext } from "../moves/patches.ts";
import { budgetOf, fargateUse, isLimited, setUseGauges } from "../migration/budget.ts";
import type { WatcherMetrics } from "../metrics.ts";
import { Periodic } from "../../core/periodic.ts";
import type { InterruptionLog } from "./interruptionLog.ts";
import { nextAttempt, recoveryState } from "./policy.ts";
import { spotFit, type ClusterView } from "./spotCapacity.ts";

export interface RecoveryDeps {
  /** The pods that hold their nodes, across the cluster (for the free capacity of each node). */
  listPods: () => Promise<V1Pod[]>;
  deployments: Deployments;
  nodes: NodeLookup;
  interruptions: InterruptionLog;
  followUps: FollowUps;
  recorder: Pick<EventRecorder, "record">;
  config: Pick<Config, "recovery" | "migration" | "compute" | "webhook" | "fargate">;
  metrics: Pick<WatcherMetrics, "fargateBudgetUsed" | "fargateBudgetLimit">;
  log: Logger;
  now?: () => Date;
}

export class Recovery {
  private readonly deps: RecoveryDeps;
  private readonly log: Logger;
  /** Recoveries under way: the flip to spot, then its follow-up. */
  private readonly attempts = new Map<string, Promise<void>>();
  private readonly loop: Periodic;
  private passes = 0;

  constructor(deps: RecoveryDeps) {
    this.deps = deps;
    this.log = deps.log.child({ loop: "recovery" });
    this.loop = new Periodic(deps.config.recovery.interval, () => this.runOnce(), this.log);
  }

  start(): void {
    this.loop.start();
  }

  /** Stops starting passes; attempts under way end with the leader's term. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  async idle(): Promise<void> {
    while (this.attempts.size > 0) await Promise.allSettled([...this.attempts.values()]);
  }

  /** One pass: start recovery for every due candidate that spot has room for, up to the concurrency cap. */
  async runOnce(): Promise<string[]> {
    const { deployments, followUps, config } = this.deps;
    const pass = ++this.passes;
    const now = this.now();
    const list = await deployments.list();
    if (!config.migration.dryRun) followUps.resume(list);
    if (isLimited(budgetOf(config))) setUseGauges(this.deps.metrics, fargateUse(list));
    const candidates = list.filter((d) => isOffSpot(requestedCompute(d)));
    const view = candidates.length > 0 ? await this.clusterView(now.getTime()) : undefined;
    const started: string[] = [];
    for (const deployment of candidates) {
      const why = await this.consider(deployment, view!, now);
      const ref = refOf(deployment);
      if (why === undefined) started.push(keyOf(ref));
      else this.log.debug({ ...ref, pass, why }, "recovery skipped");
    }
    this.log.debug({ pass, candidates: candidates.length, started }, "recovery pass done");
    return started;
  }

  /** Starts recovering `deployment`, or says why not. */
  private async consider(
    deployment: V1Deployment,
    view: ClusterView,
    now: Date,
  ): Promise<string | undefined> {
    const { config, followUps } = this.deps;
    const ref = refOf(deployment);
    if (this.attempts.has(keyOf(ref))) return "recovering already";
    if (followUps.isFollowing(ref)) return "a move of it is being followed";
    const state = recoveryState(deployment, config.recovery);
    if (!state.eligible) {
      if (state.unrecordedMove) await this.recordMoveTime(deployment, now);
      return state.why;
    }
    if (state.notBefore > now.getTime())
      return `cooldown/backoff: next attempt ${nextAttempt(state, now.getTime())}`;
    if (this.attempts.size >= config.recovery.maxConcurrent) {
      return `${config.recovery.maxConcurrent} Deployments already recovering (recovery.max_concurrent)`;
    }
    const spec = place(deployment, "spot", config.compute).spec?.template.spec;
    const fit = spec ? spotFit(spec, deployment.spec?.replicas ?? 1, view) : undefined;
    if (fit === undefined) return "no pod template";
    if (!fit.fits) return fit.why;
    const attempt = this.attempt(deployment, fit.nodes).finally(() => this.attempts.delete(keyOf(ref)));
    this.attempts.set(keyOf(ref), attempt);
    return undefined;
  }

  private async attempt(deployment: V1Deployment, nodes: string[]): Promise<void> {
    const { deployments, config, recorder, followUps } = this.deps;
    const log = this.log.child(refOf(deployment));
    if (config.migration.dryRun) {
      log.info({ nodes }, "dry run: would recover to spot");
      return;
    }
    const from = requestedCompute(deployment) === "on-demand" ? "on-demand" : "fargate";
    let flipped: V1Deployment;
    try {
      flipped = await deployments.patch(deployment, recoveryPatch(deployment, from, this.context()));
    } catch (err) {
      // a conflict means someone changed it since this pass read it; the next pass looks again
      log.info({ err, status: statusOf(err) }, "recovery flip not stored; will look again next pass");
      return;
    }
    log.info({ nodes }, "recovering to spot");
    recorder.record(flipped, {
      type: "Normal",
      reason: EventReason.recoveringToSpot,
      action: "Recover",
      note: `Spot capacity is healthy (${nodes.join(", ")}); moving back to spot`,
    });
    await followUps.follow(flipped);
  }

  /** A move off spot the webhook did not see has no time: the cooldown starts now, not at time 0. */
  private async recordMoveTime(deployment: V1Deployment, now: Date): Promise<void> {
    const log = this.log.child(refOf(deployment));
    if (this.deps.config.migration.dryRun) return;
    try {
      await this.deps.deployments.patch(deployment, {
        annotations: { [Annotation.changedAt]: rfc3339(now) },
      });
      log.info("the move off spot had no recorded time; recorded now, the recovery cooldown starts now");
    } catch (err) {
      log.info({ err, status: statusOf(err) }, "recording the time of the move failed; next pass");
    }
  }

  private async clusterView(now: number): Promise<ClusterView> {
    const { nodes, interruptions } = this.deps;
    return {
      nodes: nodes.all(),
      pods: await this.deps.listPods(),
      interruptedNodes: interruptions.nodes(now),
      stormZones: interruptions.zones(now),
    };
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private context(): WriteContext {
    return { now: this.now(), username: this.deps.config.webhook.orchestratorUsername };
  }
}
