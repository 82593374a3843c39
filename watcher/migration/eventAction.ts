// What an event does to the opted-in Deployments on its instance: move them to Fargate, or only tell of it
// (Events and one alert), by the event's kind and the settings.
import type { Config } from "../../core/config.ts";
import type { InterruptionEvent } from "../sqs/interruptionEvent.ts";

export type EventAction = { action: "migrate" } | { action: "alert"; why: string };

/** AWS Health scheduled changes that take the instance away: retirement, stop, reboot, maintenance. */
const TAKES_INSTANCE_DOWN = /RETIREMENT|STOP|REBOOT|MAINTENANCE|TERMINATION/;

const MIGRATE: EventAction = { action: "migrate" };

export function eventAction(event: InterruptionEvent, migration: Config["migration"]): EventAction {
  switch (event.kind) {
    case "rebalance-recommendation":
      return migration.rebalanceAction === "migrate"
        ? MIGRATE
        : { action: "alert", why: "rebalance recommendation: alert only (REBALANCE_ACTION=alert)" };
    case "scheduled-change":
      if (!TAKES_INSTANCE_DOWN.test(event.eventTypeCode)) {
        return {
          action: "alert",
          why: `scheduled change ${event.eventTypeCode} does not take the instance down: alert only`,
        };
      }
      return migration.scheduledChangeAction === "migrate"
        ? MIGRATE
        : { action: "alert", why: "scheduled change: alert only (SCHEDULED_CHANGE_ACTION=alert)" };
    case "asg-termination":
      return migration.asgTerminationAction === "migrate"
        ? MIGRATE
        : { action: "alert", why: "Auto Scaling termination: alert only (ASG_TERMINATION_ACTION=alert)" };
    default:
      return MIGRATE;
  }
}
