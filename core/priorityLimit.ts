// Bounded parallelism shared by callers that arrive apart: at most `limit` tasks run at once, and when a
// slot frees, the waiting task whose key sorts first runs next, whoever queued it and whenever.
export class PriorityLimit<K> {
  private readonly limit: number;
  private readonly compare: (a: K, b: K) => number;
  private running = 0;
  /** Waiting tasks, sorted by key; equal keys keep their arrival order. */
  private readonly waiting: { key: K; start: () => void }[] = [];

  constructor(limit: number, compare: (a: K, b: K) => number) {
    this.limit = Math.max(1, limit);
    this.compare = compare;
  }

  async run<T>(key: K, task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((start) => this.enqueue(key, start));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next.start();
      else this.running--;
    }
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  private enqueue(key: K, start: () => void): void {
    let low = 0;
    let high = this.waiting.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.compare(this.waiting[mid]!.key, key) <= 0) low = mid + 1;
      else high = mid;
    }
    this.waiting.splice(low, 0, { key, start });
  }
}
