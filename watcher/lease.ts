// Leader election over a coordination.k8s.io/v1 Lease, with controller-runtime's timings: only the leader
// consumes events, follows rollouts and repairs drift. Every write carries the resourceVersion it read, so
// two candidates never both win.
import { setTimeout as sleep } from "node:timers/promises";
import { V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import { toError } from "../core/errors.ts";
import { statusOf, type Kube } from "../core/kube.ts";
import type { Logger } from "../core/log.ts";
import type { WatcherMetrics } from "./metrics.ts";

export const LEASE_DURATION_MS = 15_000;
export const RENEW_DEADLINE_MS = 10_000;
export const RETRY_PERIOD_MS = 2_000;

export interface LeaderElectorOptions {
  kube: Kube;
  namespace: string;
  name: string;
  identity: string;
  /** Called once leadership is won; start the leader's work here (the lease is renewed meanwhile). */
  onStartedLeading: () => void | Promise<void>;
  /** Called once leadership is lost or released; stop the leader's work here (awaited before a release). */
  onStoppedLeading: () => void | Promise<void>;
  log: Logger;
  metrics?: Pick<WatcherMetrics, "isLeader">;
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
  private readonly options: Required<Omit<LeaderElectorOptions, "metrics">> &
    Pick<LeaderElectorOptions, "metrics">;
  private leading = false;
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
      ...options,
    };
  }

  get isLeader(): boolean {
    return this.leading;
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
      const attempt = await this.tryAcquireOrRenew();
      if (attempt !== "held") {
        await this.pause(jitter(retryPeriodMs));
        continue;
      }
      this.leading = true;
      this.options.metrics?.isLeader.set(1);
      log.info("became leader");
      this.starting = this.call("onStartedLeading", this.options.onStartedLeading);

      let lastRenew = Date.now();
      while (!this.stopped) {
        await this.pause(retryPeriodMs);
        if (this.stopped) break;
        const left = renewDeadlineMs - (Date.now() - lastRenew);
        const renewed = await withTimeout(this.tryAcquireOrRenew(), Math.max(left, 0), "failed" as const);
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
    this.options.metrics?.isLeader.set(0);
    if (why === "released") this.options.log.info("stopped leading: lease released");
    else this.options.log.warn({ why }, "stopped leading");
    await this.starting;
    await this.call("onStoppedLeading", this.options.onStoppedLeading);
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { kube, namespace, name, identity, log, leaseDurationMs } = this.options;
    const now = Date.now();
    let lease: V1Lease | undefined;
    try {
      lease = await kube.coordination.readNamespacedLease({ namespace, name });
    } catch (err) {
      if (statusOf(err) !== 404) {
        log.debug({ err }, "reading the leader lease failed");
        return "failed";
      }
    }
    try {
      if (lease === undefined) {
        await kube.coordination.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: claimedSpec(undefined, identity, now, leaseDurationMs),
          },
        });
        return "held";
      }
      if (!canAcquire(lease, identity, now)) return "held-by-other";
      // the read resourceVersion stays in the body: a concurrent writer makes this a 409
      await kube.coordination.replaceNamespacedLease({
        namespace,
        name,
        body: { ...lease, spec: claimedSpec(lease, identity, now, leaseDurationMs) },
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

async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(onTimeout), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
