// Auto Scaling termination lifecycle actions: completed with CONTINUE once the moves off the instance are
// done, so the group terminates it then instead of waiting for the hook's timeout. An action already gone
// (completed by someone else, timed out, the instance gone) is counted and let be; a refused one is told of.
import { AutoScalingClient, CompleteLifecycleActionCommand } from "@aws-sdk/client-auto-scaling";
import type { Config } from "../../core/config.ts";
import { RetryableError, toError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { Alerter } from "../alerts/alerter.ts";
import type { WatcherMetrics } from "../metrics.ts";
import type { AsgTermination } from "../sqs/interruptionEvent.ts";
import { awsErrorText } from "../sqs/queue.ts";

export interface LifecycleActions {
  /** Completes the event's lifecycle action with CONTINUE; throws RetryableError when it may work later. */
  complete(event: AsgTermination, log: Logger): Promise<void>;
}

export function createAutoScalingClient(config: {
  aws: Pick<Config["aws"], "region" | "autoscalingEndpointUrl">;
}): AutoScalingClient {
  const { region, autoscalingEndpointUrl } = config.aws;
  return new AutoScalingClient({
    ...(region ? { region } : {}),
    ...(autoscalingEndpointUrl ? { endpoint: autoscalingEndpointUrl } : {}),
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 15_000 },
  });
}

export interface AutoScalingLifecycleOptions {
  client: AutoScalingClient;
  alerter: Alerter;
  metrics: Pick<WatcherMetrics, "lifecycleActions">;
  dryRun: boolean;
}

export class AutoScalingLifecycle implements LifecycleActions {
  private readonly options: AutoScalingLifecycleOptions;

  constructor(options: AutoScalingLifecycleOptions) {
    this.options = options;
  }

  async complete(event: AsgTermination, log: Logger): Promise<void> {
    const { client, alerter, metrics, dryRun } = this.options;
    const { autoScalingGroupName, lifecycleHookName, lifecycleActionToken } = event.lifecycle;
    const fields = { autoScalingGroupName, lifecycleHookName, instanceId: event.instanceId };
    if (dryRun) {
      log.info(fields, "dry run: would complete the lifecycle action with CONTINUE");
      return;
    }
    try {
      await client.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: autoScalingGroupName,
          LifecycleHookName: lifecycleHookName,
          LifecycleActionToken: lifecycleActionToken,
          InstanceId: event.instanceId,
          LifecycleActionResult: "CONTINUE",
        }),
      );
      metrics.lifecycleActions.inc({ result: "completed" });
      log.info(fields, "completed the lifecycle action (CONTINUE): the group may terminate the instance");
    } catch (err) {
      const error = awsErrorText(err);
      const name = toError(err).name;
      if (name === "ValidationError") {
        metrics.lifecycleActions.inc({ result: "expired" });
        log.warn({ ...fields, error }, "the lifecycle action is no longer pending; nothing to complete");
        return;
      }
      metrics.lifecycleActions.inc({ result: "failed" });
      if (/AccessDenied|UnauthorizedOperation/.test(name)) {
        log.error({ ...fields, error }, "not allowed to complete the lifecycle action");
        alerter.problem("The watcher may not complete an Auto Scaling lifecycle action", {
          group: autoScalingGroupName,
          hook: lifecycleHookName,
          instance: event.instanceId,
          error,
          effect: "the group terminates the instance when the hook times out",
        });
        return;
      }
      throw new RetryableError(`completing the lifecycle action of ${autoScalingGroupName}: ${error}`, {
        cause: err,
      });
    }
  }
}
