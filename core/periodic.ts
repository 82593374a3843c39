// Runs a task every `intervalMs`, never two at once; a failing pass is logged and the next one runs anyway.
import type { Logger } from "./log.ts";

export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  private readonly intervalMs: number;
  private readonly task: () => Promise<unknown>;
  private readonly log: Logger;

  constructor(intervalMs: number, task: () => Promise<unknown>, log: Logger) {
    this.intervalMs = intervalMs;
    this.task = task;
    this.log = log;
  }

  /** Starts with a pass right away. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private tick(): void {
    if (this.stopped) return;
    this.running = this.task()
      .catch((err: unknown) => this.log.error({ err }, "periodic pass failed"))
      .finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.intervalMs);
      });
  }
}
