// The leader's handling of one event: every instance it names that is a node of this cluster is handed to the
// migrator (AWS Health may name several; those of other clusters are left alone), feeding the recovery's storm
// guard on the way; an Auto Scaling termination's lifecycle action is completed once the moves off the
// instance are done, so the group waits no longer than they take.
import type { Config } from "../../core/config.ts";
import { NodeLabel } from "../../core/contract.ts";
import { PermanentError, RetryableError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { Alerter } from "../alerts/alerter.ts";
import type { NodeLookup } from "../cluster/nodeIndex.ts";
import { keyOf } from "../moves/deployments.ts";
import type { Verdict } from "../moves/followUp.ts";
import type { LifecycleActions } from "./lifecycleActions.ts";
import { eventAction } from "./eventAction.ts";
import type { Migrator } from "./migrator.ts";
import type { InterruptionLog } from "../recovery/interruptionLog.ts";
import { instancesOf, type AsgTermination, type EventHandler } from "../sqs/interruptionEvent.ts";

export interface EventHandlingDeps {
  nodes: NodeLookup;
  interruptions: InterruptionLog;
  migrator: Pick<Migrator, "handle">;
  lifecycle: LifecycleActions;
  alerter: Alerter;
  config: Pick<Config, "migration">;
  /** The leader's term: a lifecycle action is completed only while it lasts. */
  signal: AbortSignal;
}

export function eventHandling(deps: EventHandlingDeps): EventHandler {
  const { nodes, interruptions, migrator, config } = deps;
  return async (event, context) => {
    const instances = instancesOf(event);
    const verdicts: Promise<Verdict>[] = [];
    let foreign = 0;
    for (const instanceId of instances) {
      const node = nodes.byInstanceId(instanceId);
      if (node?.metadata?.name && event.kind !== "rebalance-recommendation") {
        interruptions.record(node.metadata.name, node.metadata.labels?.[NodeLabel.zone]);
      }
      try {
        verdicts.push(...(await migrator.handle({ ...event, instanceId }, context)));
      } catch (err) {
        const isForeign = err instanceof PermanentError && err.kind === "foreign-instance";
        if (isForeign && ++foreign < instances.length) {
          context.log.debug({ instanceId }, "an instance the event names is not a node of this cluster");
          continue;
        }
        throw err;
      }
    }
    if (event.kind === "asg-termination" && eventAction(event, config.migration).action === "migrate") {
      await completeOnceMoved(deps, event, verdicts, context.log);
    }
  };
}

/**
 * CONTINUE once every move off the instance has a verdict. A move that failed keeps the hook held (the old
 * pods on the instance go on serving until its timeout), and the end of the term leaves it to the next leader.
 */
async function completeOnceMoved(
  deps: EventHandlingDeps,
  event: AsgTermination,
  verdicts: Promise<Verdict>[],
  log: Logger,
): Promise<void> {
  const decided = await Promise.all(verdicts);
  if (deps.signal.aborted) {
    throw new RetryableError("leadership ended before the moves off the instance were done");
  }
  const failed = decided.filter((v) => v.result !== undefined && !v.result.ok).map((v) => keyOf(v.ref));
  if (failed.length > 0) {
    log.warn(
      { failed, ...event.lifecycle },
      "a move off the instance failed: the lifecycle action is left to its timeout, so its pods keep serving until then",
    );
    deps.alerter.problem(
      "An Auto Scaling termination waits for its hook's timeout: moves off the instance failed",
      {
        group: event.lifecycle.autoScalingGroupName,
        instance: event.instanceId,
        failed: failed.join(", "),
      },
    );
    return;
  }
  await deps.lifecycle.complete(event, log);
}
