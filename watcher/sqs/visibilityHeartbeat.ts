// Keeps a received message invisible to other consumers while its handler is still running, by
// extending its visibility timeout at half the timeout.
import type { Message } from "@aws-sdk/client-sqs";
import type { Logger } from "../../core/log.ts";
import type { SqsQueue } from "./queue.ts";

export interface VisibilityHeartbeatOptions {
  queue: SqsQueue;
  message: Message;
  visibilityTimeoutSeconds: number;
  log: Logger;
}

export class VisibilityHeartbeat {
  private readonly timer: NodeJS.Timeout;
  private inFlight: Promise<unknown> | undefined;
  private stopped = false;

  constructor(options: VisibilityHeartbeatOptions) {
    const { queue, message, visibilityTimeoutSeconds, log } = options;
    const extend = async () => {
      const extended = await queue.changeVisibility(
        message,
        visibilityTimeoutSeconds,
        log,
        "could not extend the message's visibility; another consumer may receive it",
      );
      if (extended) log.debug({ visibilityTimeoutSeconds }, "extended the message's visibility");
    };
    this.timer = setInterval(
      () => {
        // One extension at a time: a slow call must not pile up behind the next tick.
        if (this.stopped || this.inFlight) return;
        this.inFlight = extend().finally(() => (this.inFlight = undefined));
      },
      (visibilityTimeoutSeconds * 1000) / 2,
    );
  }

  /** Stops extending and waits for an extension already sent, so nothing lands after the caller's own change. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.inFlight;
  }
}
