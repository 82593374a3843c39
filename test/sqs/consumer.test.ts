// The SQS consumer against the fauxqs emulator, driven by the real @aws-sdk/client-sqs.
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PermanentError, RetryableError } from "../../core/errors.ts";
import { buildEventBridgeEvent, wrapInSnsNotification } from "../../watcher/sqs/eventBuilder.ts";
import type { InterruptionEvent, EventHandler } from "../../watcher/sqs/interruptionEvent.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { startSqsEmulator, type SqsEmulator } from "../../harness/sqs/emulator.ts";
import {
  counterValue,
  gate,
  queueDepth,
  send,
  startTestConsumer,
  uniqueQueueName,
  type TestConsumer,
} from "../support/sqsConsumer.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/aws-events/${name}.json`, import.meta.url), "utf8");

const spotEvent = (instanceId = "i-0b662ef9931388ba0") =>
  buildEventBridgeEvent({
    kind: "spot-interruption",
    instanceId,
    region: "us-east-1",
    account: "123456789012",
  });

const waitOptions = { timeoutMs: 20_000, intervalMs: 50 };

let emulator: SqsEmulator;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  emulator = await startSqsEmulator();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await emulator.stop();
});

async function setup(handler: EventHandler, options: Parameters<typeof startTestConsumer>[3] = {}) {
  const queueUrl = await emulator.createQueue(uniqueQueueName());
  const sender = emulator.client();
  cleanups.push(async () => sender.destroy());
  const consumer = startTestConsumer(emulator, queueUrl, handler, options);
  cleanups.push(() => consumer.close());
  return { queueUrl, sender, ...consumer };
}

function recordingHandler(): { handler: EventHandler; events: InterruptionEvent[] } {
  const events: InterruptionEvent[] = [];
  return { events, handler: async (event) => void events.push(event) };
}

const emptied = (t: Pick<TestConsumer, "client">, queueUrl: string) =>
  waitFor("the queue to be empty", async () => (await queueDepth(t.client, queueUrl)) === 0, waitOptions);

describe("SqsConsumer with the SQS emulator", () => {
  it("hands a spot interruption to the handler with a per-event logger, then deletes it", async () => {
    const seen: { event: InterruptionEvent; receivedAt: number }[] = [];
    const t = await setup(async (event, { log, receivedAt }) => {
      log.info("cluster side acting");
      seen.push({ event, receivedAt });
    });
    const built = spotEvent();
    const messageId = await send(t.sender, t.queueUrl, built);

    await waitFor("the event to be handled", () => seen.length === 1, waitOptions);
    await emptied(t, t.queueUrl);
    expect(seen[0]!.event).toMatchObject({
      id: built.id,
      kind: "spot-interruption",
      instanceId: "i-0b662ef9931388ba0",
      region: "us-east-1",
      account: "123456789012",
      // as AWS sends it, without instance-action-time: two minutes after the event
      deadline: new Date(Date.parse(built.time) + 120_000),
    });
    expect(seen[0]!.receivedAt).toBeGreaterThan(0);
    expect(t.lines.find((l) => l.msg === "cluster side acting")).toMatchObject({
      eventId: built.id,
      instanceId: "i-0b662ef9931388ba0",
      messageId,
    });
    expect(
      await counterValue(t.metrics.eventsReceived, { type: "spot-interruption", result: "handled" }),
    ).toBe(1);
  });

  it("handles events wrapped in SNS notifications", async () => {
    const { handler, events } = recordingHandler();
    const t = await setup(handler);
    const built = buildEventBridgeEvent({
      kind: "instance-stopping",
      instanceId: "i-0a1b2c3d",
      region: "eu-west-1",
    });
    await send(t.sender, t.queueUrl, fixture("sns-wrapped-spot-interruption-warning"));
    await send(t.sender, t.queueUrl, wrapInSnsNotification(built));

    await waitFor("both events to be handled", () => events.length === 2, waitOptions);
    await emptied(t, t.queueUrl);
    expect(events.map((e) => [e.id, e.kind]).sort()).toEqual(
      [
        ["1e5527d7-bb36-4607-3370-4164db56a40e", "spot-interruption"],
        [built.id, "instance-stopping"],
      ].sort(),
    );
  });

  it("hands on the notification of a lifecycle hook whose target is the queue itself, as an Auto Scaling termination", async () => {
    const { handler, events } = recordingHandler();
    const t = await setup(handler);
    await send(t.sender, t.queueUrl, fixture("autoscaling-hook-notification-terminate"));
    await send(t.sender, t.queueUrl, fixture("sns-wrapped-autoscaling-hook-notification"));

    await waitFor("both to be handled", () => events.length === 2, waitOptions);
    await emptied(t, t.queueUrl);
    expect(events.map((e) => [e.kind, e.id, e.instanceId]).sort()).toEqual([
      ["asg-termination", "4e7a1c92-5d3b-4f60-8a2e-9b1c7d5e3f04", "i-0b662ef9931388ba0"],
      ["asg-termination", "7b3d5f10-2c8e-4a96-b1d7-5e0f9a3c6b28", "i-0b662ef9931388ba0"],
    ]);
  });

  it("handles a lifecycle action once when it comes from EventBridge and from its hook", async () => {
    const { handler, events } = recordingHandler();
    const t = await setup(handler);
    const hook = JSON.parse(fixture("autoscaling-hook-notification-terminate")) as Record<string, string>;
    const viaEventBridge = buildEventBridgeEvent({
      kind: "asg-termination",
      instanceId: hook["EC2InstanceId"]!,
      region: "us-east-1",
      lifecycle: {
        autoScalingGroupName: hook["AutoScalingGroupName"]!,
        lifecycleHookName: hook["LifecycleHookName"]!,
        lifecycleActionToken: hook["LifecycleActionToken"]!,
      },
    });
    await send(t.sender, t.queueUrl, viaEventBridge);
    await waitFor("the first copy to be handled", () => events.length === 1, waitOptions);
    await send(t.sender, t.queueUrl, hook);
    await waitFor(
      "the other copy to be counted as a duplicate",
      async () =>
        (await counterValue(t.metrics.eventsReceived, { type: "asg-termination", result: "duplicate" })) ===
        1,
      waitOptions,
    );
    await emptied(t, t.queueUrl);
    expect(events.map((e) => e.id)).toEqual([viaEventBridge.id]);
  });

  it("deletes and counts messages it cannot act on, without calling the handler", async () => {
    const { handler, events } = recordingHandler();
    const t = await setup(handler);
    const bodies = {
      unparseable: "this is not JSON",
      "foreign-source": JSON.stringify({ ...spotEvent(), source: "com.example.chaos" }),
      "unknown-type": fixture("unknown-detail-type"),
      invalid: fixture("invalid-instance-id"),
      "ignored-state": fixture("instance-state-change-running"),
      // routine (AWS Health updates every change it announces): debug only
      "ignored-health-event": fixture("health-ec2-operational-issue"),
      // what Auto Scaling sends first to a hook's notification target
      "ignored-transition": fixture("autoscaling-hook-notification-test"),
    };
    for (const body of Object.values(bodies)) await send(t.sender, t.queueUrl, body);

    await emptied(t, t.queueUrl);
    for (const kind of Object.keys(bodies)) {
      expect(await counterValue(t.metrics.eventsReceived, { type: "unknown", result: kind }), kind).toBe(1);
    }
    expect(events).toEqual([]);
    const atLevel = (level: number) =>
      t.lines.filter((l) => l.level === level && typeof l["kind"] === "string");
    const warnings = atLevel(40);
    expect(warnings.map((l) => l["kind"]).sort()).toEqual(
      Object.keys(bodies)
        .filter((k) => k !== "ignored-health-event")
        .sort(),
    );
    expect(warnings.every((l) => typeof l["reason"] === "string" && l["reason"] !== "")).toBe(true);
    expect(atLevel(20).map((l) => l["kind"])).toEqual(["ignored-health-event"]);
  });

  it("deletes an event of an instance of another cluster, counted and logged at debug only", async () => {
    const t = await setup(async () => {
      throw new PermanentError(
        "foreign-instance",
        "instance i-0b662ef9931388ba0 is not a node of this cluster",
      );
    });
    await send(t.sender, t.queueUrl, spotEvent());

    await waitFor(
      "the permanent failure to be counted",
      async () =>
        (await counterValue(t.metrics.eventsReceived, {
          type: "spot-interruption",
          result: "foreign-instance",
        })) === 1,
      waitOptions,
    );
    await emptied(t, t.queueUrl);
    const said = t.lines.filter((l) => l["kind"] === "foreign-instance");
    expect(said.map((l) => [l.level, l.msg])).toEqual([[20, "event cannot be acted on; deleting it"]]);
  });

  it("leaves an event whose handling failed retryably; it comes back and is handled exactly once", async () => {
    let calls = 0;
    const handled: InterruptionEvent[] = [];
    const t = await setup(
      async (event) => {
        calls += 1;
        if (calls === 1) throw new RetryableError("apiserver unavailable");
        handled.push(event);
      },
      { retryDelaySeconds: 1 },
    );
    const built = spotEvent();
    await send(t.sender, t.queueUrl, built);

    await waitFor("the retried event to be handled", () => handled.length === 1, waitOptions);
    await emptied(t, t.queueUrl);
    expect(calls).toBe(2);
    expect(handled.map((e) => e.id)).toEqual([built.id]);
    const attempts = t.lines.filter((l) => l.msg === "handling EC2 event").map((l) => l["receiveCount"]);
    expect(attempts).toEqual([1, 2]);
    expect(await counterValue(t.metrics.eventsReceived, { result: "retry" })).toBe(1);
    expect(await counterValue(t.metrics.eventsReceived, { result: "handled" })).toBe(1);
  });

  it("treats an unexpected handler error like a retryable one", async () => {
    let calls = 0;
    const t = await setup(
      async () => {
        calls += 1;
        if (calls === 1) throw new TypeError("cannot read properties of undefined");
      },
      { retryDelaySeconds: 1 },
    );
    await send(t.sender, t.queueUrl, spotEvent());

    await emptied(t, t.queueUrl);
    await waitFor("the second attempt", () => calls === 2, waitOptions);
    expect(await counterValue(t.metrics.eventsReceived, { result: "error" })).toBe(1);
    expect(await counterValue(t.metrics.eventsReceived, { result: "handled" })).toBe(1);
  });

  it("does not handle a repeated event (same event id, new message) twice", async () => {
    const { handler, events } = recordingHandler();
    const t = await setup(handler);
    const built = spotEvent();
    await send(t.sender, t.queueUrl, built);
    await waitFor("the first delivery to be handled", () => events.length === 1, waitOptions);
    await emptied(t, t.queueUrl);

    await send(t.sender, t.queueUrl, wrapInSnsNotification(built));
    await waitFor(
      "the repeat to be counted as a duplicate",
      async () => (await counterValue(t.metrics.eventsReceived, { result: "duplicate" })) === 1,
      waitOptions,
    );
    await emptied(t, t.queueUrl);
    expect(events).toHaveLength(1);
  });

  it("handles an event once when two copies arrive together", async () => {
    const hold = gate();
    let calls = 0;
    const t = await setup(async () => {
      calls += 1;
      await hold.promise;
    });
    const built = spotEvent();
    await send(t.sender, t.queueUrl, built);
    await send(t.sender, t.queueUrl, built);
    await waitFor("the handler to start", () => calls === 1, waitOptions);
    await waitFor("both copies to be received", () => t.consumer.busy === 2, waitOptions);
    hold.open();

    await emptied(t, t.queueUrl);
    expect(calls).toBe(1);
    expect(await counterValue(t.metrics.eventsReceived, { result: "duplicate" })).toBe(1);
  });

  it("keeps a slow event from a second consumer by extending its visibility", async () => {
    const visibilityTimeoutSeconds = 2;
    const slow = gate();
    let slowCalls = 0;
    const first = await setup(
      async () => {
        slowCalls += 1;
        await slow.promise;
      },
      { visibilityTimeoutSeconds },
    );
    const other = recordingHandler();
    const second = startTestConsumer(emulator, first.queueUrl, other.handler, {
      visibilityTimeoutSeconds,
      waitTimeSeconds: 1,
    });
    cleanups.push(() => second.close());
    await send(first.sender, first.queueUrl, spotEvent());
    await waitFor("the first consumer to start handling", () => slowCalls === 1, waitOptions);

    // Hold the handler for more than two visibility timeouts' worth of extensions.
    await waitFor(
      "three visibility extensions",
      () => first.lines.filter((l) => l.msg === "extended the message's visibility").length >= 3,
      waitOptions,
    );
    slow.open();

    await emptied(first, first.queueUrl);
    expect(other.events).toEqual([]);
    expect(slowCalls).toBe(1);
    expect(await counterValue(first.metrics.sqsErrors, {})).toBe(0);
  });

  it("takes a burst with several receives at once, and hands every event on as soon as it is read", async () => {
    const queueUrl = await emulator.createQueue(uniqueQueueName());
    const sender = emulator.client();
    cleanups.push(async () => sender.destroy());
    const ids = Array.from({ length: 45 }, (_, i) => `i-0${String(i).padStart(16, "0")}`);
    for (const id of ids) await send(sender, queueUrl, spotEvent(id));
    const held = gate();
    const started = new Set<string>();
    const t = startTestConsumer(
      emulator,
      queueUrl,
      async (event) => {
        started.add(event.instanceId);
        await held.promise;
      },
      { concurrency: 100, parallelReceives: 4 },
    );
    cleanups.push(() => t.close());
    // every event is being handled at once: none waits for another to finish
    await waitFor(
      "all 45 events handled at once",
      async () => (started.size === 45 ? true : undefined),
      waitOptions,
    );
    const bursts = t.lines.filter((l) => l.msg === "a burst: receiving several batches at once");
    expect(bursts.length).toBeGreaterThan(0);
    expect(Math.max(...bursts.map((l) => Number(l["receives"])))).toBeGreaterThan(1);
    held.open();
    await waitFor(
      "the queue to empty",
      async () => ((await queueDepth(sender, queueUrl)) === 0 ? true : undefined),
      waitOptions,
    );
  });

  it("handles no more messages at once than its concurrency", async () => {
    const hold = gate();
    let running = 0;
    let most = 0;
    let handled = 0;
    const t = await setup(
      async () => {
        running += 1;
        most = Math.max(most, running);
        await hold.promise;
        running -= 1;
        handled += 1;
      },
      { concurrency: 2 },
    );
    for (let i = 0; i < 6; i++) await send(t.sender, t.queueUrl, spotEvent());
    await waitFor("two handlers to run at once", () => running === 2, waitOptions);
    hold.open();

    await waitFor("six events to be handled", () => handled === 6, waitOptions);
    await emptied(t, t.queueUrl);
    expect(most).toBe(2);
  });

  it("stop() stops receiving and waits for running handlers", async () => {
    const hold = gate();
    let started = 0;
    let finished = 0;
    const t = await setup(
      async () => {
        started += 1;
        await hold.promise;
        finished += 1;
      },
      { waitTimeSeconds: 1 },
    );
    await send(t.sender, t.queueUrl, spotEvent());
    await waitFor("the handler to start", () => started === 1, waitOptions);

    let stopped: boolean | undefined;
    const stopping = t.consumer.stop(10_000).then((drained) => (stopped = drained));
    await t.loop;
    await send(t.sender, t.queueUrl, spotEvent("i-0a1b2c3d"));
    // The receive loop has ended, yet stop() is still waiting for the held handler.
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBeUndefined();
    expect(finished).toBe(0);
    hold.open();
    await stopping;

    expect(stopped).toBe(true);
    expect(finished).toBe(1);
    expect(started).toBe(1);
    // The first event was deleted; the one sent after stop() is still waiting for a consumer.
    expect(await queueDepth(t.client, t.queueUrl)).toBe(1);
  });

  it("stop() gives up on a handler that outlasts its timeout and says so, even with every slot busy", async () => {
    const never = gate();
    const t = await setup(async () => never.promise, { concurrency: 1, waitTimeSeconds: 1 });
    cleanups.push(async () => never.open());
    await send(t.sender, t.queueUrl, spotEvent());
    await waitFor("the handler to start", () => t.consumer.busy === 1, waitOptions);

    expect(await t.consumer.stop(100)).toBe(false);
    expect(
      t.lines.some((l) => l.msg === "handlers still running after stop; their messages will come back"),
    ).toBe(true);
  });
});

describe("SqsConsumer when the queue is unreachable", () => {
  it("counts receive errors, keeps going, and resumes when the emulator is back", async () => {
    let outage: SqsEmulator | undefined = await startSqsEmulator();
    const queueName = uniqueQueueName();
    const queueUrl = await outage.createQueue(queueName);
    const { handler, events } = recordingHandler();
    const t = startTestConsumer(outage, queueUrl, handler, { receiveBackoff: { initialMs: 50, maxMs: 400 } });
    const port = outage.port;
    cleanups.push(async () => {
      await t.close();
      await outage?.stop();
    });
    await waitFor(
      "the consumer to poll",
      () => t.lines.some((l) => l.msg === "receiving EC2 events from SQS"),
      waitOptions,
    );

    await outage.stop();
    await waitFor(
      "three failed receives",
      async () => (await counterValue(t.metrics.sqsErrors, { operation: "receive" })) >= 3,
      waitOptions,
    );
    const failed = t.lines.filter((l) => l.msg === "receiving from SQS failed; retrying");
    expect(failed[0]!.level).toBe(40); // the first of a run; the others at debug
    expect(failed.slice(1).every((l) => l.level === 20)).toBe(true);

    outage = await startSqsEmulator({ port });
    expect(await outage.createQueue(queueName)).toBe(queueUrl);
    const sender = outage.client();
    cleanups.push(async () => sender.destroy());
    const built = spotEvent();
    await send(sender, queueUrl, built);

    await waitFor("the event to be handled after the outage", () => events.length === 1, waitOptions);
    expect(events[0]!.id).toBe(built.id);
    await emptied({ client: sender }, queueUrl);
  });
});
