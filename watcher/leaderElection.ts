// Leader election over a coordination.k8s.io/v1 Lease, with controller-runtime's timings: only the leader
// consumes events, follows rollouts and repairs drift. Every write carries the resourceVersion it read, so
// two candidates never both win. Losing the Lease aborts the leader's signal at once, before anything
// else, so the leader's work stops writing while this candidate campaigns again.
import { setTimeout as sleep } from "node:timers/promises";
import { CoordinationV1Api, V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import { toError } from "../core/errors.ts";
import { cancellable, statusOf, type Kube } from "../core/kube.ts";
import type { Logger } from "../core/log.ts";

const LEASE_DURATION_MS = 15_000;
const RENEW_DEADLINE_MS = 10_000;
const RETRY_PERIOD_MS = 2_000;

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
}

/** When a lease stops counting: its last renewal plus its duration; undefined for a lease nobody holds. */
export function leaseExpiry(lease: V1Lease): number | undefined {
  const spec = lease.spec;
  if (!spec?.holderIdentity || spec.renewTime === undefined || spec.leaseDurationSeconds === undefined) {
    return undefined;
  }
  return new Date(spec.renewTime).getTime() + spec.leaseDurationSeconds * 1000;
}

/** True when `identity` may take the lease at `now`: it holds it, nobody does, or the holder let it expire. */
export function canAcquire(lease: V1Lease, identity: string, now: number): boolean {
  const holder = lease.spec?.holderIdentity;
  if (!holder || holder === identity) return true;
  const expiry = leaseExpiry(lease);
  return expiry === undefined || expiry <= now;
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

  constructor(options: LeaderElectorOptions) {
    this.options = {
      leaseDurationMs: LEASE_DURATION_MS,
      renewDeadlineMs: RENEW_DEADLINE_MS,
      retryPeriodMs: RETRY_PERIOD_MS,
      annotations: () => ({}),
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
    const { kube, namespace, name, identity, log } = this.options;
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
            renewTime: new V1MicroTime(),
          },
        },
      });
      log.info("leader lease released");
    } catch (err) {
      log.warn({ err }, "releasing the leader lease failed; a successor waits for it to expire");
    }
  }

  private async campaign(): Promise<void> {
    const { log, retryPeriodMs, renewDeadlineMs } = this.options;
    while (!this.stopped) {
      const attempt = await this.tryAcquireOrRenew(renewDeadlineMs);
      if (attempt !== "held") {
        await this.pause(jitter(retryPeriodMs));
        continue;
      }
      this.leading = true;
      this.term = new AbortController();
      log.info("became leader");
      const signal = this.term.signal;
      this.starting = this.call("onStartedLeading", () => this.options.onStartedLeading(signal));

      let lastRenew = Date.now();
      while (!this.stopped) {
        await this.pause(retryPeriodMs);
        if (this.stopped) break;
        const left = renewDeadlineMs - (Date.now() - lastRenew);
        const renewed = await this.tryAcquireOrRenew(left);
        if (renewed === "held") {
          lastRenew = Date.now();
          continue;
        }
        if (renewed === "held-by-other" || Date.now() - lastRenew >= renewDeadlineMs) {
          await this.stepDown(
            renewed === "held-by-other" ? "lease taken by another candidate" : "renew deadline passed",
          );
          break;
        }
      }
    }
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

  /** One read and write of the Lease, given up after `timeoutMs` (an apiserver that hangs is a failure). */
  private async tryAcquireOrRenew(timeoutMs: number): Promise<Attempt> {
    const { kube, namespace, name, identity, log, leaseDurationMs } = this.options;
    if (timeoutMs <= 0) return "failed";
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), this.stopping.signal]);
    const coordination = cancellable(kube.config, signal).makeApiClient(CoordinationV1Api);
    const now = Date.now();
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
        await coordination.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace, annotations: this.options.annotations() },
            spec: claimedSpec(undefined, identity, now, leaseDurationMs),
          },
        });
        return "held";
      }
      if (!canAcquire(lease, identity, now)) return "held-by-other";
      // the read resourceVersion stays in the body: a concurrent writer makes this a 409
      const annotations = { ...lease.metadata?.annotations, ...this.options.annotations() };
      await coordination.replaceNamespacedLease({
        namespace,
        name,
        body: {
          ...lease,
          metadata: { ...lease.metadata, annotations },
          spec: claimedSpec(lease, identity, now, leaseDurationMs),
        },
      });
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
