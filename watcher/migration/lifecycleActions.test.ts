// How completing a lifecycle action ends, by what Auto Scaling answers (its calls stubbed; the real call
// against moto is in test/aws/).
import { readFileSync } from "node:fs";
import type { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { describe, expect, it } from "vitest";
import { RetryableError } from "../../core/errors.ts";
import { quietLog as log } from "../../test/support/log.ts";
import { recordingAlerter } from "../../test/watcher/fakes.ts";
import { AutoScalingLifecycle } from "./lifecycleActions.ts";
import { createWatcherMetrics } from "../metrics.ts";
import { buildEventBridgeEvent } from "../sqs/eventBuilder.ts";
import { parseMessageBody } from "../sqs/parseEvent.ts";
import type { AsgTermination } from "../sqs/interruptionEvent.ts";

const termination = parseMessageBody(
  JSON.stringify(
    buildEventBridgeEvent({
      kind: "asg-termination",
      instanceId: "i-0a1b2c3d",
      region: "eu-west-1",
      lifecycle: { autoScalingGroupName: "spot-a", lifecycleHookName: "drain", lifecycleActionToken: "t-1" },
    }),
  ),
) as AsgTermination;

const awsError = (name: string, message: string, status: number) =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

function lifecycleAnswering(answer: () => Promise<unknown>, dryRun = false) {
  const sent: unknown[] = [];
  const client = {
    send: async (command: { input: unknown }) => {
      sent.push(command.input);
      return answer();
    },
  } as unknown as AutoScalingClient;
  const metrics = createWatcherMetrics();
  const alerter = recordingAlerter();
  const lifecycle = new AutoScalingLifecycle({ client, alerter, metrics, dryRun });
  const counted = async (result: string) =>
    (await metrics.lifecycleActions.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { lifecycle, sent, alerter, counted };
}

describe("AutoScalingLifecycle.complete", () => {
  it("continues the action the event names", async () => {
    const t = lifecycleAnswering(async () => ({}));
    await t.lifecycle.complete(termination, log);
    expect(t.sent).toEqual([
      {
        AutoScalingGroupName: "spot-a",
        LifecycleHookName: "drain",
        LifecycleActionToken: "t-1",
        InstanceId: "i-0a1b2c3d",
        LifecycleActionResult: "CONTINUE",
      },
    ]);
    expect(await t.counted("completed")).toBe(1);
  });

  it("continues the action of a hook that notifies the queue itself, as of one through EventBridge", async () => {
    const notification = readFileSync(
      new URL("../../test/fixtures/aws-events/autoscaling-hook-notification-terminate.json", import.meta.url),
      "utf8",
    );
    const t = lifecycleAnswering(async () => ({}));
    await t.lifecycle.complete(parseMessageBody(notification) as AsgTermination, log);
    expect(t.sent).toEqual([
      {
        AutoScalingGroupName: "spot-workers",
        LifecycleHookName: "nth-terminate",
        LifecycleActionToken: "c8f2a6d4-1e9b-4c73-b5a0-2d6e8f1a3c57",
        InstanceId: "i-0b662ef9931388ba0",
        LifecycleActionResult: "CONTINUE",
      },
    ]);
  });

  it("lets an action that is no longer pending be", async () => {
    const gone = awsError("ValidationError", "No active Lifecycle Action found with token t-1", 400);
    const t = lifecycleAnswering(async () => Promise.reject(gone));
    await t.lifecycle.complete(termination, log);
    expect(await t.counted("expired")).toBe(1);
    expect(t.alerter.problems).toEqual([]);
  });

  it("alerts when it may not complete it, without retrying", async () => {
    const denied = awsError(
      "AccessDenied",
      "not authorized to perform: autoscaling:CompleteLifecycleAction",
      403,
    );
    const t = lifecycleAnswering(async () => Promise.reject(denied));
    await t.lifecycle.complete(termination, log);
    expect(await t.counted("failed")).toBe(1);
    expect(t.alerter.problems[0]?.details).toMatchObject({
      group: "spot-a",
      hook: "drain",
      instance: "i-0a1b2c3d",
    });
  });

  it("leaves anything else to a retry", async () => {
    const t = lifecycleAnswering(async () => Promise.reject(awsError("Throttling", "Rate exceeded", 400)));
    await expect(t.lifecycle.complete(termination, log)).rejects.toBeInstanceOf(RetryableError);
  });

  it("sends nothing in a dry run", async () => {
    const t = lifecycleAnswering(async () => ({}), true);
    await t.lifecycle.complete(termination, log);
    expect(t.sent).toEqual([]);
  });
});
