// Whether the queue can be read: receives that keep failing for a grace period (a wrong queue URL, region
// or credentials, a missing permission, an outage) make it unreachable, the next successful receive makes
// it reachable again. Each change is told once; the state is there to be published.
import { awsErrorText } from "./queue.ts";

export type QueueState =
  /** No receive has finished yet. */
  | { state: "unknown" }
  | { state: "reachable"; since: Date }
  /** Receives fail, for less than the grace period so far. */
  | { state: "failing"; since: Date; error: string }
  | { state: "unreachable"; since: Date; error: string };

export interface ReachabilityListener {
  /** Receives have failed for the whole grace period; `since` is the first failure. */
  unreachable(state: { since: Date; error: string; failures: number }): void;
  /** A receive worked again after the queue was unreachable since `since`. */
  reachable(state: { since: Date }): void;
}

export class QueueReachability {
  private current: QueueState = { state: "unknown" };
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly graceMs: number;
  private readonly listener: ReachabilityListener;

  constructor(graceMs: number, listener: ReachabilityListener) {
    this.graceMs = graceMs;
    this.listener = listener;
  }

  get state(): QueueState {
    return this.current;
  }

  /** A receive answered. */
  succeeded(now = new Date()): void {
    this.clearTimer();
    const before = this.current;
    this.failures = 0;
    if (before.state === "reachable") return;
    this.current = { state: "reachable", since: now };
    if (before.state === "unreachable") this.listener.reachable({ since: before.since });
  }

  /** A receive failed; the first of a run starts the grace period. */
  failed(err: unknown, now = new Date()): void {
    this.failures++;
    const error = awsErrorText(err);
    const before = this.current;
    if (before.state === "failing" || before.state === "unreachable") {
      this.current = { ...before, error };
      return;
    }
    this.current = { state: "failing", since: now, error };
    this.timer = setTimeout(() => this.giveUpWaiting(), this.graceMs);
  }

  /** Stops the grace period's timer (the consumer stopped). */
  stop(): void {
    this.clearTimer();
  }

  private giveUpWaiting(): void {
    this.timer = undefined;
    const failing = this.current;
    if (failing.state !== "failing") return;
    this.current = { ...failing, state: "unreachable" };
    this.listener.unreachable({ since: failing.since, error: failing.error, failures: this.failures });
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
