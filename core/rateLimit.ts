// A token bucket: `qps` tokens a second, up to `burst` saved. reserve() books the next token at once;
// take() waits for one in its lane, and when tokens are short the lowest lane is served first (FIFO within
// a lane), so urgent writes are not paced behind routine ones.

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly qps: number;
  private readonly burst: number;
  private readonly now: () => number;
  /** Waiting takers by lane, each lane in arrival order. */
  private readonly lanes: (() => void)[][] = [];
  private waiting = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(qps: number, burst: number, now: () => number = () => performance.now()) {
    this.qps = qps;
    this.burst = Math.max(1, burst);
    this.tokens = this.burst;
    this.now = now;
    this.last = now();
  }

  /** Milliseconds until a token is free after reserving one (0 when one is free now). */
  reserve(): number {
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  /** Waits for a token; while tokens are short, a lower `lane` is served before a higher one. */
  async take(lane = 0): Promise<void> {
    this.refill();
    if (this.waiting === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return;
    }
    await new Promise<void>((resolve) => {
      (this.lanes[lane] ??= []).push(resolve);
      this.waiting++;
      this.schedule();
    });
  }

  /** Takers waiting for a token. */
  get queued(): number {
    return this.waiting;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.waiting === 0) return;
    const wait = this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.qps) * 1000;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.release();
      this.schedule();
    }, Math.ceil(wait));
  }

  private release(): void {
    this.refill();
    for (const lane of this.lanes) {
      while (lane !== undefined && lane.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        this.waiting--;
        lane.shift()!();
      }
    }
  }
}
