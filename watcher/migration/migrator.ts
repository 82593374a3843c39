// Interruption event → flip the `compute` annotation of every affected opted-in Deployment to fargate, or
// to on-demand for what does not fit the Fargate budget or cannot run on Fargate when the fallback is on (the
// webhook then moves the template), and hand each move to the follow-ups without holding up the event.
import type { V1Deployment } from "@kubernetes/client-node";
import type { Config } from "../../core/config.ts";
import { PermanentError, RetryableError, toError } from "../../core/errors.ts";
import { WriteLane } from "../../core/kube.ts";
import type { Logger } from "../../core/log.ts";
import { rfc3339 } from "../../core/time.ts";
import { priorityOf } from "../../core/contract.ts";
import { PriorityLimit } from "../../core/priorityLimit.ts";
import type { Alerter } from "../alerts/alerter.ts";
import type { EventRecorder } from "../alerts/kubeEvents.ts";
import type { NodeLookup } from "../cluster/nodeIndex.ts";
import type { ClassPriority } from "../cluster/priorityClasses.ts";
import { keyOf, refOf, updateDeployment, type Deployments } from "../moves/deployments.ts";
import type { FollowUps, Verdict } from "../moves/followUp.ts";
import type { WatcherMetrics } from "../metrics.ts";
import type { DrainGuards } from "../moves/drainGuard.ts";
import { deadlineOf, type InterruptionEvent } from "../sqs/interruptionEvent.ts";
import {
  allocate,
  budgetOf,
  describeUse,
  fargateUse,
  isLimited,
  setLimitGauges,
  setUseGauges,
} from "./budget.ts";
import { migrationPatch, planFor, type NotFargate, type Plan } from "./plan.ts";
import { eventAction } from "./eventAction.ts";
import { atRisk } from "./forecast.ts";
import {
  reportAlertOnly,
  reportAtRisk,
  reportMoves,
  reportGuard,
  summarizeMigrations,
  type MoveStart,
} from "./report.ts";

export interface MigratorDeps {
  /** The opted-in Deployments with pods on a node, read fresh (see cluster/affectedDeployments.ts). */
  affectedBy: (node: string) => Promise<V1Deployment[]>;
  /** PriorityClass values (see cluster/priorityClasses.ts), for the order of the Fargate budget. */
  classPriority: () => Promise<ClassPriority>;
  deployments: Deployments;
  nodes: NodeLookup;
  followUps: FollowUps;
  /** Drain guards for the moves off spot; absent with `migration.drain_guard` off. */
  guards?: Pick<DrainGuards, "guard"> | undefined;
  recorder: Pick<EventRecorder, "record">;
  alerter: Alerter;
  metrics: WatcherMetrics;
  config: Config;
  /** The leader's term: flips stop being retried once it ends. */
  signal: AbortSignal;
  now?: () => Date;
}

/** Flips that failed but may work on a retry; carries the Deployments they would have moved. */
export class MovesFailed extends RetryableError {
  readonly deployments: V1Deployment[];
  constructor(message: string, deployments: V1Deployment[]) {
    super(message);
    this.deployments = deployments;
  }
}

const MAX_FLIP_ATTEMPTS = 3;
/** How long an event waits for the node index's first list before it is left for a retry. */
const SYNC_WAIT_MS = 20_000;

export class Migrator {
  private readonly deps: MigratorDeps;
  /** Instance id → the handling of its event now running; a repeat for the same instance queues behind. */
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly summaries = new Set<Promise<void>>();
  /** Under a Fargate budget, one interruption at a time decides and stores its moves. */
  private budgetTurn: Promise<unknown> = Promise.resolve();
  /**
   * The moves' first writes, `migration.max_concurrent_flips` at once across every event being handled: the
   * earliest deadline first, then the Deployment's priority.
   */
  private readonly starts: PriorityLimit<StartKey>;

  constructor(deps: MigratorDeps) {
    this.deps = deps;
    this.starts = new PriorityLimit(deps.config.migration.maxConcurrentFlips, compareStarts);
    setLimitGauges(deps.metrics, budgetOf(deps.config));
  }

  /**
   * Handles one event of one instance. A duplicate for the same instance waits for the first; its own pass
   * then finds every Deployment already on fargate and skips it. Returns the verdicts of the moves.
   */
  async handle(
    event: InterruptionEvent,
    context: { log: Logger; receivedAt: number },
  ): Promise<Promise<Verdict>[]> {
    const previous = this.inFlight.get(event.instanceId) ?? Promise.resolve();
    const run = previous
      .catch(() => undefined)
      .then(() => this.migrate(event, context.log, context.receivedAt));
    this.inFlight.set(event.instanceId, run);
    try {
      return await run;
    } finally {
      if (this.inFlight.get(event.instanceId) === run) this.inFlight.delete(event.instanceId);
    }
  }

  /** Resolves once the summaries of the interruptions handled so far have been sent. */
  async idle(): Promise<void> {
    while (this.summaries.size > 0) await Promise.allSettled([...this.summaries]);
  }

  /** The flips to Fargate, and the verdicts of the moves they started (or found under way). */
  private async migrate(
    event: InterruptionEvent,
    parentLog: Logger,
    receivedAt: number,
  ): Promise<Promise<Verdict>[]> {
    const { config, metrics, followUps } = this.deps;
    await this.synced();
    const node = this.deps.nodes.byInstanceId(event.instanceId)?.metadata?.name;
    if (node === undefined) {
      throw new PermanentError(
        "foreign-instance",
        `instance ${event.instanceId} is not a node of this cluster`,
      );
    }
    const log = childWith(parentLog, { eventId: event.id, instanceId: event.instanceId, node });
    const { dryRun } = config.migration;
    const affected = await this.deps.affectedBy(node);
    if (affected.length === 0) {
      log.info({ kind: event.kind }, "no opted-in Deployments on the node; nothing to do");
      return [];
    }
    const action = eventAction(event, config.migration);
    if (action.action === "alert") {
      reportAlertOnly({ ...this.deps, dryRun }, event, node, affected, action.why, log);
      return [];
    }

    const outcomes = isLimited(budgetOf(config))
      ? await this.inTurn(() => this.moveAll(affected, event, node, log))
      : await this.moveAll(affected, event, node, log);
    const flipped = outcomes.filter((o) => o.outcome === "moved").map((o) => o.deployment);
    if (flipped.length > 0 && !dryRun) metrics.eventToFlip.observe((Date.now() - receivedAt) / 1000);
    const toFargate = outcomes.flatMap((o) =>
      o.outcome === "moved" && o.to === "fargate" ? [o.deployment] : [],
    );
    const late = atRisk(toFargate, deadlineOf(event), this.now().getTime(), config.fargate);
    if (late.length > 0) reportAtRisk({ ...this.deps, dryRun }, event, node, late, log);

    let verdicts: Promise<Verdict>[] = [];
    if (!dryRun) {
      const moved = outcomes.flatMap((o) => (o.outcome === "skipped" ? [o.deployment] : []));
      // a redelivered event also picks up its own moves that a previous leader left unfinished
      verdicts = [...flipped.map((d) => followUps.follow(d)), ...followUps.resume(moved)];
      this.track(summarizeMigrations(this.deps.alerter, verdicts, node, event.id));
    }
    const failed = outcomes.flatMap((o) => (o.outcome === "failed" ? [o] : []));
    if (failed.length > 0) {
      const detail = failed.map((o) => `${keyOf(refOf(o.deployment))}: ${o.error.message}`).join("; ");
      throw new MovesFailed(
        `${failed.length} of ${outcomes.length} moves failed to start: ${detail}`,
        failed.map((o) => o.deployment),
      );
    }
    return verdicts;
  }

  /** Decides where each affected Deployment goes (the budget's share first), moves them and reports it. */
  private async moveAll(
    affected: V1Deployment[],
    event: InterruptionEvent,
    node: string,
    log: Logger,
  ): Promise<MoveStart[]> {
    const { config } = this.deps;
    const budget = await this.allocate(affected, log);
    const notFargate = new Map<string, Exclude<NotFargate, { why: "fargate-incompatible" }>>();
    for (const [key, detail] of budget?.over ?? []) notFargate.set(key, { why: "over-budget", detail });
    if (config.fargate.fallback === "on-demand") {
      for (const [key, detail] of this.tooLate(affected, notFargate, event, node)) {
        notFargate.set(key, { why: "too-late", detail });
      }
    }
    const deadline = deadlineOf(event).getTime();
    const outcomes = await Promise.all(
      affected.map(async (d) => {
        const key = { deadline, priority: priorityOf(d), name: keyOf(refOf(d)) };
        // the slot is the flip's alone: a guard's writes come after every waiting flip (WriteLane)
        const started = await this.starts.run(key, () =>
          this.startMove(d, event, node, log, notFargate.get(keyOf(refOf(d)))),
        );
        await this.guardMove(started, event, node, log);
        return started;
      }),
    );
    reportMoves({ ...this.deps, dryRun: config.migration.dryRun }, event, node, outcomes, log, budget?.use);
    return outcomes;
  }

  /**
   * Under a Fargate budget: which of the affected Deployments that could go to Fargate do not fit in what
   * the opted-in Deployments on Fargate leave, and the budget's use once the rest are there.
   */
  private async allocate(
    affected: V1Deployment[],
    log: Logger,
  ): Promise<{ over: Map<string, string>; use: string } | undefined> {
    const { config, metrics, deployments } = this.deps;
    const budget = budgetOf(config);
    if (!isLimited(budget)) return undefined;
    const used = fargateUse(await deployments.list());
    const candidates = affected.filter((d) => planFor(d, "none").action === "move");
    const allocation = allocate(candidates, used, budget, await this.classPriority(candidates, log));
    if (!config.migration.dryRun) setUseGauges(metrics, allocation.after);
    log.info(
      {
        fits: allocation.fits.map((d) => keyOf(refOf(d))),
        over: Object.fromEntries(allocation.over),
        used: describeUse(used, budget),
      },
      "Fargate budget shared out, highest priority first",
    );
    return { over: allocation.over, use: describeUse(allocation.after, budget) };
  }

  /**
   * With the fallback to on-demand: the Fargate-bound Deployments (highest priority first, as they start)
   * whose pods are not expected Ready on Fargate before they must leave the node, and why.
   */
  private tooLate(
    affected: V1Deployment[],
    notFargate: Map<string, unknown>,
    event: InterruptionEvent,
    node: string,
  ): Map<string, string> {
    const toFargate = affected
      .filter((d) => !notFargate.has(keyOf(refOf(d))) && planFor(d, "none").action === "move")
      .sort((a, b) => priorityOf(b) - priorityOf(a));
    const late = atRisk(toFargate, deadlineOf(event), this.now().getTime(), this.deps.config.fargate);
    return new Map(
      late.map(({ deployment, readyBy, holdUntil }) => [
        keyOf(refOf(deployment)),
        `not expected Ready on Fargate before its pods must leave ${node} (expected ${rfc3339(readyBy)}, ` +
          `they must go by ${rfc3339(holdUntil)})`,
      ]),
    );
  }

  /** PriorityClass values; without them (not readable) the order goes by the annotation and name alone. */
  private async classPriority(candidates: V1Deployment[], log: Logger): Promise<ClassPriority> {
    if (!candidates.some((d) => d.spec?.template?.spec?.priorityClassName)) {
      // a pod without a class may still get the global default's value: only a tie needs it, and a tie
      // between pods of no class is one either way
      return () => 0;
    }
    try {
      return await this.deps.classPriority();
    } catch (err) {
      log.warn({ err }, "PriorityClasses could not be read; ordering by the priority annotation and name");
      return () => 0;
    }
  }

  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.budgetTurn.then(work);
    this.budgetTurn = turn.catch(() => undefined);
    return turn;
  }

  /** Flips one Deployment, deciding again on the stored version after a conflict. */
  private async startMove(
    listed: V1Deployment,
    event: InterruptionEvent,
    node: string,
    eventLog: Logger,
    notFargate: Exclude<NotFargate, { why: "fargate-incompatible" }> | undefined,
  ): Promise<MoveStart> {
    const { deployments, config, signal } = this.deps;
    const dryRun = config.migration.dryRun;
    const log = eventLog.child(refOf(listed));
    const context = { now: this.now(), username: config.webhook.orchestratorUsername };
    let plan = { action: "move", to: "fargate" } as Plan;
    try {
      const update = await updateDeployment(
        deployments,
        listed,
        (current) => {
          plan = planFor(current, config.fargate.fallback, notFargate);
          return plan.action === "move" ? migrationPatch(current, plan.to, event, node, context) : undefined;
        },
        { attempts: MAX_FLIP_ATTEMPTS, dryRun, signal, lane: WriteLane.flip },
      );
      const deployment = update.deployment;
      if (plan.action === "skip") return { outcome: "skipped", deployment, plan };
      log.info({ dryRun }, `${dryRun ? "dry run: would flip" : "compute flipped"} to ${plan.to}`);
      return plan.to === "fargate"
        ? { outcome: "moved", deployment, to: "fargate" }
        : { outcome: "moved", deployment, to: "on-demand", because: plan.because };
    } catch (err) {
      if (err instanceof PermanentError) {
        log.warn({ err }, "compute flip is impossible; skipping the Deployment");
        return {
          outcome: "impossible",
          deployment: listed,
          why: err.kind === "not-found" ? "deleted" : err.message,
        };
      }
      log.error({ err }, "compute flip failed; the event will be retried");
      return { outcome: "failed", deployment: listed, error: toError(err) };
    }
  }

  /** Holds the drainers' evictions of a moved Deployment's pods on the node (see moves/drainGuard.ts). */
  private async guardMove(
    started: MoveStart,
    event: InterruptionEvent,
    node: string,
    eventLog: Logger,
  ): Promise<void> {
    const { guards, config, recorder } = this.deps;
    if (started.outcome !== "moved" || config.migration.dryRun || guards === undefined) return;
    const { deployment } = started;
    const log = eventLog.child(refOf(deployment));
    reportGuard(recorder, deployment, await guards.guard(deployment, node, deadlineOf(event), log));
  }

  private async synced(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      const why = new RetryableError("the node index has not listed the nodes yet");
      timer = setTimeout(() => reject(why), SYNC_WAIT_MS);
    });
    try {
      await Promise.race([this.deps.nodes.synced, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private track(summary: Promise<void>): void {
    this.summaries.add(summary);
    void summary.finally(() => this.summaries.delete(summary)).catch(() => undefined);
  }
}

/** The order in which moves start when the write budget is the limit. */
interface StartKey {
  /** When the node goes (epoch ms). */
  deadline: number;
  /** The Deployment's `priority` annotation. */
  priority: number;
  /** `namespace/name`, for a stable order among equals. */
  name: string;
}

function compareStarts(a: StartKey, b: StartKey): number {
  return (
    a.deadline - b.deadline || b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
}

/** A child logger with only the fields the parent does not already carry. */
function childWith(log: Logger, fields: Record<string, string>): Logger {
  const bound = log.bindings();
  return log.child(Object.fromEntries(Object.entries(fields).filter(([k]) => !(k in bound))));
}
