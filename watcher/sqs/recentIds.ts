// A bounded set of recently seen ids that forgets them after a while: enough to recognise an SQS
// redelivery or a repeated EventBridge event without growing for ever.

export class RecentIds {
  private readonly expiry = new Map<string, number>();
  private readonly maxSize: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(maxSize: number, ttlMs: number, now: () => number = () => performance.now()) {
    this.maxSize = Math.max(1, maxSize);
    this.ttlMs = ttlMs;
    this.now = now;
  }

  add(id: string): void {
    this.expiry.delete(id);
    this.expiry.set(id, this.now() + this.ttlMs);
    // A Map iterates in insertion order, so the first entries are the oldest.
    for (const oldest of this.expiry.keys()) {
      if (this.expiry.size <= this.maxSize && this.expiry.get(oldest)! > this.now()) break;
      this.expiry.delete(oldest);
    }
  }

  has(id: string): boolean {
    const expires = this.expiry.get(id);
    if (expires === undefined) return false;
    if (expires > this.now()) return true;
    this.expiry.delete(id);
    return false;
  }

  get size(): number {
    return this.expiry.size;
  }
}
