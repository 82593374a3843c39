// Who is told when something happens: Slack when it is configured, the log otherwise.
import type { Logger } from "../../core/log.ts";
import type { WatcherMetrics } from "../metrics.ts";
import { LogAlerter, type Alerter } from "./alerter.ts";
import { SlackAlerter, type SlackAlerterOptions } from "./slack.ts";

export interface AlerterOptions extends Omit<SlackAlerterOptions, "log" | "metrics"> {
  enabled: boolean;
  log: Logger;
  metrics: Pick<WatcherMetrics, "alerts">;
}

/** Slack when alerts are enabled and a webhook URL is set; the log otherwise. */
export function createAlerter(options: AlerterOptions): Alerter {
  const log = options.log.child({ component: "slack" });
  if (!options.enabled || options.webhookUrl === "") {
    log.info({ enabled: options.enabled }, "Slack alerts are off; alerts are only logged");
    return new LogAlerter(log);
  }
  return new SlackAlerter({ ...options, log });
}
