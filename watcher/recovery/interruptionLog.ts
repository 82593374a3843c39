// Recent interruptions seen by this watcher: which nodes are going away and which zones are in a storm.
// Recovery reads it so it never moves a workload back onto a dying node or into a zone still losing capacity.

export interface InterruptionRecord {
  node: string;
  zone: string | undefined;
  at: number;
}

export class InterruptionLog {
  private readonly records: InterruptionRecord[] = [];
  private readonly retainMs: number;

  /** `retainMs`: how long an interruption counts (the recovery cooldown). */
  constructor(retainMs: number) {
    this.retainMs = retainMs;
  }

  record(node: string, zone: string | undefined, at: number = Date.now()): void {
    this.records.push({ node, zone, at });
  }

  /** Nodes interrupted within the window (a Node object may outlive its instance for a while). */
  nodes(now: number = Date.now()): Set<string> {
    return new Set(this.recent(now).map((r) => r.node));
  }

  zones(now: number = Date.now()): Set<string> {
    return new Set(this.recent(now).flatMap((r) => (r.zone === undefined ? [] : [r.zone])));
  }

  private recent(now: number): InterruptionRecord[] {
    const since = now - this.retainMs;
    while (this.records.length > 0 && this.records[0]!.at < since) this.records.shift();
    return this.records;
  }
}
