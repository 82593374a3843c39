import type { V1Node } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { RetryableError } from "../../core/errors.ts";
import { quietLog as log } from "../../test/support/log.ts";
import { recordingAlerter, recordingRecorder } from "../../test/watcher/fakes.ts";
import type { NodeLookup } from "../cluster/nodeIndex.ts";
import { reportGivenUp } from "./givenUp.ts";
import { MovesFailed } from "../migration/migrator.ts";
import { buildEventBridgeEvent } from "../sqs/eventBuilder.ts";
import { parseMessageBody } from "../sqs/parseEvent.ts";

const pod = { apiVersion: "v1", kind: "Pod", namespace: "so", name: "so-7d9-x2", uid: "pod-uid" };
const nodes: NodeLookup = {
  byInstanceId: () => ({ metadata: { name: "ip-10-0-1-7" } }) as V1Node,
  byName: () => undefined,
  all: () => [],
  synced: Promise.resolve(),
};
const event = parseMessageBody(
  JSON.stringify(
    buildEventBridgeEvent({
      kind: "spot-interruption",
      instanceId: "i-0a1b2c3d",
      region: "eu-west-1",
      id: "e-1",
    }),
  ),
);
const web = { metadata: { namespace: "shop", name: "web", uid: "web-uid" } };

describe("reportGivenUp", () => {
  it("names the Deployments the event would have moved, on the Pod, on each of them and in the alert", () => {
    const recorder = recordingRecorder();
    const alerter = recordingAlerter();
    const failure = new MovesFailed("1 of 1 moves failed to start: shop/web: HTTP 500", [web]);
    reportGivenUp({ nodes, pod, recorder, alerter }, event, failure, { log, receiveCount: 5 });

    const note =
      "Gave up on EC2 Spot Instance Interruption Warning e-1 for node ip-10-0-1-7 (i-0a1b2c3d) after 5 attempts: 1 of 1 moves failed to start: shop/web: HTTP 500. It is in the queue's dead-letter queue.";
    expect(recorder.events).toEqual([
      {
        type: "Warning",
        reason: "InterruptionGivenUp",
        action: "Migrate",
        note: `${note} Deployments it would have moved: shop/web.`,
        deployment: "so/so-7d9-x2",
        kind: "Pod",
        uid: "pod-uid",
      },
      {
        type: "Warning",
        reason: "InterruptionGivenUp",
        action: "Migrate",
        note: `Not moved: ${note}`,
        deployment: "shop/web",
        kind: "Deployment",
        uid: "web-uid",
      },
    ]);
    expect(alerter.problems).toEqual([
      {
        message:
          "Gave up on EC2 Spot Instance Interruption Warning for node ip-10-0-1-7 (i-0a1b2c3d): its Deployments were not moved",
        details: expect.objectContaining({ event: "e-1", attempts: "5", "would have moved": "shop/web" }),
      },
    ]);
  });

  it("says when the failure came before the Deployments were known", () => {
    const recorder = recordingRecorder();
    const alerter = recordingAlerter();
    const failure = new RetryableError("the node index has not listed the nodes yet");
    reportGivenUp({ nodes, pod, recorder, alerter }, event, failure, { log, receiveCount: 5 });
    expect(recorder.events.map((e) => e.kind)).toEqual(["Pod"]);
    expect(recorder.events[0]?.note).toMatch(
      /Deployments it would have moved: \(not known: the failure came first\)\.$/,
    );
    expect(alerter.problems[0]?.details?.["would have moved"]).toBe("(not known: the failure came first)");
  });
});
