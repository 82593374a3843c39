// Leader election over a coordination.k8s.io/v1 Lease, with controller-runtime's timings: only the leader
// consumes events, follows rollouts and repairs drift. Every write carries the resourceVersion it read, so
// two candidates never both win. Losing the Lease aborts the leader's signal at once, before anything
// else, so the leader's work stops writing while this candidate campaigns again.
//
// As client-go's leaderelection does, no candidate compares its clock with another machine's: the times on
// the Lease are written for people, and a holder's lease runs, for each candidate, from the moment that
// candidate saw the Lease's record change (holder, times, transitions), counted on its own monotonic clock.
// A candidate whose wall clock is off by any amount neither takes a live lease nor waits longer for a dead one.
import { setTimeout as sleep } from "node:timers/promises";
import { CoordinationV1Api, V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import { toError } from "../../core/errors.ts";
import { cancellable, statusOf, type Kube } from "../../core/kube.ts";
import type { Logger } from "../../core/log.ts";

const LEASE_DURATION_MS = 15_000;
const RENEW_DEADLINE_MS = 10_000;
const RETRY_PERIOD_MS = 2_000;

/** The clocks a candidate reads. */
export interface ElectionClock {
  /** Wall-clock milliseconds since the epoch: only what is written on the Lease (acquireTime, renewTime). */
  now(): number;
  /** Milliseconds of a clock that moves at a steady pace and never jumps: every duration the election counts. */
  monotonic(): number;
}

export const systemClock: ElectionClock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

export interface LeaderElectorOptions {
  kube: Kube;
  namespace: string;
  name: string;
  identity: string;
  /**
   * Called once leadership is won; start the leader's work here (the lease is renewed meanwhile). `signal`
   * is aborted the moment leadership ends, lost or released: bind every write of the term to it.
   */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called once leadership has ended and `signal` is aborted; wait for the leader's work to wind down here. */
  onStoppedLeading: () => void | Promise<void>;
  /** Annotations the leader keeps on the Lease, written with every renewal (its settings, its queue's state). */
  annotations?: () => Record<string, string>;
  log: Logger;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: ElectionClock;
}

/**
 * When a lease stops counting by its holder's clock: its last renewal plus its duration; undefined for a
 * lease nobody holds. Only for telling people (`status`, `doctor`): a candidate never decides by it.
 */
export function leaseExpiry(lease: V1Lease): number | undefined {
  const spec = lease.spec;
  if (!spec?.holderIdentity || spec.renewTime === undefined || spec.leaseDurationSeconds === undefined) {
    return undefined;
  }
  return new Date(spec.renewTime).getTime() + spec.leaseDurationSeconds * 1000;
}

/**
 * What a candidate last saw of the Lease, and when by its own monotonic clock (client-go's observedRecord and
 * observedTime): the holder's lease runs for its duration from the moment the record was seen to change.
 */
export class LeaseObservation {
  private record: string | undefined;
  private holderIdentity: string | undefined;
  private durationMs = 0;
  private observedAt = 0;

  /** Notes the Lease's record as read or written at `at` (monotonic); the time moves only when it changed. */
  observe(spec: V1Lease["spec"], at: number): void {
    const record = recordOf(spec);
    if (record === this.record) return;
    this.record = record;
    this.holderIdentity = spec?.holderIdentity || undefined;
    this.durationMs = (spec?.leaseDurationSeconds ?? 0) * 1000;
    this.observedAt = at;
  }

  /** The holder last seen; undefined when nobody holds the lease. */
  get holder(): string | undefined {
    return this.holderIdentity;
  }

  /** How long the holder's lease still runs at `at` (monotonic): 0 once it has run out, or when nobody holds it. */
  remainingMs(at: number): number {
    if (this.holderIdentity === undefined) return 0;
    return Math.max(0, this.observedAt + this.durationMs - at);
  }
}

/** The election record of a Lease, as client-go compares it: the fields a holder changes when it renews. */
function recordOf(spec: V1Lease["spec"]): string {
  const ms = (time: Date | undefined) => (time === undefined ? null : new Date(time).getTime());
  return JSON.stringify([
    spec?.holderIdentity ?? "",
    spec?.leaseDurationSeconds ?? null,
    ms(spec?.acquireTime),
    ms(spec?.renewTime),
    spec?.leaseTransitions ?? null,
  ]);
}

/** True when `identity` may take the lease at `at`: it holds it, nobody does, or the holder's lease ran out. */
export function canAcquire(observed: LeaseObservation, identity: string, at: number): boolean {
  const holder = observed.holder;
  return holder === undefined || holder === identity || observed.remainingMs(at) === 0;
}

/** The lease spec after `identity` takes or renews it at `now`. */
export function claimedSpec(
  lease: V1Lease | undefined,
  identity: string,
  now: number,
  durationMs: number,
): V1Lease["spec"] {
  const spec = lease?.spec ?? {};
  const renewing = spec.holderIdentity === identity;
  return {
    holderIdentity: identity,
    leaseDurationSeconds: Math.ceil(durationMs / 1000),
    acquireTime:
      renewing && spec.acquireTime ? new V1MicroTime(new Date(spec.acquireTime)) : new V1MicroTime(now),
    renewTime: new V1MicroTime(now),
    leaseTransitions: renewing
      ? (spec.leaseTransitions ?? 0)
      : lease === undefined
        ? 0
        : (spec.leaseTransitions ?? 0) + 1,
  };
}

type Attempt = "held" | "held-by-other" | "failed";

/** The shortest pause between two attempts, however soon another's lease runs out. */
const MIN_PAUSE_MS = 50;

export class LeaderElector {
  private readonly options: Required<LeaderElectorOptions>;
  private leading = false;
  /** Aborted when the current term ends. */
  private term = new AbortController();
  /** The running onStartedLeading; renewals go on meanwhile, and stepping down waits for it. */
  private starting: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  private readonly observed = new LeaseObservation();

  constructor(options: LeaderElectorOptions) {
    this.options = {
      leaseDurationMs: LEASE_DURATION_MS,
      renewDeadlineMs: RENEW_DEADLINE_MS,
      retryPeriodMs: RETRY_PERIOD_MS,
      annotations: () => ({}),
      clock: systemClock,
      ...options,
    };
  }

  /**
   * Campaigns until `release()`: acquires, leads while renewals succeed, and after losing the lease
   * campaigns again. Resolves once released.
   */
  run(): Promise<void> {
    this.running ??= this.campaign();
    return this.running;
  }

  /** Stops campaigning; when leading, stops the leader's work, then frees the lease for a successor at once. */
  async release(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    await this.running;
    if (!this.leading) return;
    await this.stepDown("released");
    const { kube, namespace, name, identity, log, clock } = this.options;
    try {
      const lease = await kube.coordination.readNamespacedLease({ namespace, name });
      if (lease.spec?.holderIdentity !== identity) return;
      await kube.coordination.replaceNamespacedLease({
        namespace,
        name,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: undefined,
            leaseDurationSeconds: 1,
            renewTime: new V1MicroTime(clock.now()),
          },
        },
      });
      log.info("leader lease released");
    } catch (err) {
      log.warn({ err }, "releasing the leader lease failed; a successor waits for it to expire");
    }
  }

  private async campaign(): Promise<void> {
    const { log, retryPeriodMs, renewDeadlineMs, clock } = this.options;
    while (!this.stopped) {
      const attempt = await this.tryAcquireOrRenew(renewDeadlineMs);
      if (attempt !== "held") {
        await this.pause(this.untilNextAttempt(attempt));
        continue;
      }
      this.leading = true;
      this.term = new AbortController();
      log.info("became leader");
      const signal = this.term.signal;
      this.starting = this.call("onStartedLeading", () => this.options.onStartedLeading(signal));

      let lastRenew = clock.monotonic();
      while (!this.stopped) {
        await this.pause(retryPeriodMs);
        if (this.stopped) break;
        const left = renewDeadlineMs - (clock.monotonic() - lastRenew);
        const renewed = await this.tryAcquireOrRenew(left);
        if (renewed === "held") {
          lastRenew = clock.monotonic();
          continue;
        }
        if (renewed === "held-by-other" || clock.monotonic() - lastRenew >= renewDeadlineMs) {
          await this.stepDown(
            renewed === "held-by-other" ? "lease taken by another candidate" : "renew deadline passed",
          );
          break;
        }
      }
    }
  }

  /**
   * A retry period, jittered; when another holds the lease and it runs out sooner, that moment: a standby
   * takes a dead leader's lease as soon as it may, not up to a retry period later.
   */
  private untilNextAttempt(attempt: Attempt): number {
    const { retryPeriodMs, clock } = this.options;
    const retry = jitter(retryPeriodMs);
    if (attempt !== "held-by-other") return retry;
    return Math.max(MIN_PAUSE_MS, Math.min(retry, this.observed.remainingMs(clock.monotonic())));
  }

  private async stepDown(why: string): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    // first of all: nothing of the term may write from here on
    this.term.abort(new Error(`leadership ended: ${why}`));
    if (why === "released") this.options.log.info("stopped leading: lease released");
    else this.options.log.warn({ why }, "stopped leading; campaigning again");
    await this.starting;
    await this.call("onStoppedLeading", this.options.onStoppedLeading);
  }

  /**
   * One read and write of the Lease, given up after `timeoutMs` (an apiserver that hangs is a failure). What
   * it reads and writes is observed: another's lease is taken only once it ran out by this candidate's view.
   */
  private async tryAcquireOrRenew(timeoutMs: number): Promise<Attempt> {
    const { kube, namespace, name, identity, log, leaseDurationMs, clock } = this.options;
    if (timeoutMs <= 0) return "failed";
    const signal = AbortSignal.any([AbortSignal.timeout(Math.ceil(timeoutMs)), this.stopping.signal]);
    const coordination = cancellable(kube.config, signal).makeApiClient(CoordinationV1Api);
    const now = clock.now();
    let lease: V1Lease | undefined;
    try {
      lease = await coordination.readNamespacedLease({ namespace, name });
    } catch (err) {
      if (statusOf(err) !== 404) {
        log.debug({ err }, "reading the leader lease failed");
        return "failed";
      }
    }
    try {
      if (lease === undefined) {
        const created = await coordination.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace, annotations: this.options.annotations() },
            spec: claimedSpec(undefined, identity, now, leaseDurationMs),
          },
        });
        this.observed.observe(created.spec, clock.monotonic());
        return "held";
      }
      this.observed.observe(lease.spec, clock.monotonic());
      if (!canAcquire(this.observed, identity, clock.monotonic())) return "held-by-other";
      // the read resourceVersion stays in the body: a concurrent writer makes this a 409
      const annotations = { ...lease.metadata?.annotations, ...this.options.annotations() };
      const written = await coordination.replaceNamespacedLease({
        namespace,
        name,
        body: {
          ...lease,
          metadata: { ...lease.metadata, annotations },
          spec: claimedSpec(lease, identity, now, leaseDurationMs),
        },
      });
      this.observed.observe(written.spec, clock.monotonic());
      return "held";
    } catch (err) {
      if (statusOf(err) === 409) return lease?.spec?.holderIdentity === identity ? "failed" : "held-by-other";
      log.debug({ err }, "writing the leader lease failed");
      return "failed";
    }
  }

  private async call(what: string, callback: () => void | Promise<void>): Promise<void> {
    try {
      await callback();
    } catch (err) {
      this.options.log.error({ err: toError(err) }, `${what} failed`);
    }
  }

  private async pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.stopping.signal });
    } catch {
      // released
    }
  }
}

function jitter(ms: number): number {
  return ms * (1 + Math.random() * 0.2);
}
