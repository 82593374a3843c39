// The consumer against the SQS emulator when things go wrong on the queue's side: a queue it cannot read is
// reported once the grace period has passed (and once when it can be read again), retried every few seconds
// at most; an event that fails on the last attempt the queue's redrive policy allows is given up, told of,
// and lands in the dead-letter queue.
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RetryableError } from "../../core/errors.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import type { InterruptionEvent } from "../../watcher/sqs/interruptionEvent.ts";
import { QueueReachability } from "../../watcher/sqs/reachability.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { startSqsEmulator, type SqsEmulator } from "../../harness/sqs/emulator.ts";
import {
  counterValue,
  queueDepth,
  send,
  startTestConsumer,
  uniqueQueueName,
} from "../support/sqsConsumer.ts";

const waitOptions = { timeoutMs: 30_000, intervalMs: 50 };
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

const spotEvent = () =>
  buildEventBridgeEvent({
    kind: "spot-interruption",
    instanceId: "i-0b662ef9931388ba0",
    region: "us-east-1",
  });

describe("a queue the consumer cannot read", () => {
  it("is reported unreachable once, after the grace period, and reachable again once, retrying every 5 s at most", async () => {
    const name = uniqueQueueName("missing");
    const queueUrl = `${emulator.endpoint}/000000000000/${name}`;
    const told: string[] = [];
    const reachability = new QueueReachability(3_000, {
      unreachable: ({ error, failures }) => told.push(`unreachable after ${failures} failures: ${error}`),
      reachable: () => told.push("reachable"),
    });
    const handled: InterruptionEvent[] = [];
    const t = startTestConsumer(emulator, queueUrl, async (e) => void handled.push(e), { reachability });
    cleanups.push(() => t.close());

    const retries = () =>
      t.lines.filter((l) => l.msg === "receiving from SQS failed; retrying").map((l) => l["retryInMs"]);
    await waitFor("six failed receives", () => retries().length >= 6, waitOptions);
    expect(retries().slice(0, 6)).toEqual([500, 1_000, 2_000, 4_000, 5_000, 5_000]);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(
      /^unreachable after \d+ failures: QueueDoesNotExist: The specified queue does not exist\. \(HTTP 400\)$/,
    );
    expect(reachability.state).toMatchObject({
      state: "unreachable",
      error: expect.stringContaining("QueueDoesNotExist"),
    });

    expect(new URL(await emulator.createQueue(name)).pathname).toBe(new URL(queueUrl).pathname);
    const sender = emulator.client();
    cleanups.push(async () => sender.destroy());
    await send(sender, queueUrl, spotEvent());
    await waitFor("the event to be handled once the queue exists", () => handled.length === 1, waitOptions);
    expect(told.slice(1)).toEqual(["reachable"]);
    expect(reachability.state.state).toBe("reachable");
  });

  it("is not reported when receives work again within the grace period", async () => {
    const name = uniqueQueueName("late");
    const queueUrl = `${emulator.endpoint}/000000000000/${name}`;
    const told: string[] = [];
    const reachability = new QueueReachability(60_000, {
      unreachable: () => told.push("unreachable"),
      reachable: () => told.push("reachable"),
    });
    const t = startTestConsumer(emulator, queueUrl, async () => undefined, {
      reachability,
      waitTimeSeconds: 1,
    });
    cleanups.push(() => t.close());
    await waitFor("a failed receive", () => reachability.state.state === "failing", waitOptions);
    await emulator.createQueue(name);
    await waitFor("a receive that works", () => reachability.state.state === "reachable", waitOptions);
    expect(told).toEqual([]);
  });
});

describe("an event that keeps failing", () => {
  it("is given up on its last attempt: told once, counted, and moved to the dead-letter queue", async () => {
    const admin = emulator.client();
    cleanups.push(async () => admin.destroy());
    const dlqUrl = await emulator.createQueue(uniqueQueueName("dlq"));
    const { Attributes } = await admin.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }),
    );
    const queueUrl = await emulator.createQueue(uniqueQueueName("poisoned"), {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!["QueueArn"], maxReceiveCount: 3 }),
    });
    const givenUp: { event: InterruptionEvent; failure: unknown; receiveCount: number }[] = [];
    let attempts = 0;
    const t = startTestConsumer(
      emulator,
      queueUrl,
      async () => {
        attempts++;
        throw new RetryableError("the apiserver refused every flip");
      },
      {
        retryDelaySeconds: 1,
        onGivenUp: (event, failure, { receiveCount }) => givenUp.push({ event, failure, receiveCount }),
      },
    );
    cleanups.push(() => t.close());
    const built = spotEvent();
    await send(admin, queueUrl, built);

    await waitFor(
      "the event in the dead-letter queue",
      async () => (await queueDepth(admin, dlqUrl)) === 1,
      waitOptions,
    );
    expect(await queueDepth(admin, queueUrl)).toBe(0);
    expect(attempts).toBe(3);
    expect(givenUp).toHaveLength(1);
    expect(givenUp[0]).toMatchObject({ event: { id: built.id }, receiveCount: 3 });
    expect(String(givenUp[0]!.failure)).toMatch(/refused every flip/);
    expect(await counterValue(t.metrics.eventsReceived, { result: "retry" })).toBe(2);
    expect(await counterValue(t.metrics.eventsReceived, { result: "given-up" })).toBe(1);
    const last = t.lines.find((l) => l.msg.startsWith("handling failed on the event's last attempt"));
    expect(last).toMatchObject({ level: 50, receiveCount: 3, maxReceiveCount: 3, eventId: built.id });
    expect(
      t.lines.some((l) => l.msg === "an event that fails this many receives goes to the dead-letter queue"),
    ).toBe(true);
  });

  it("without a dead-letter queue is retried, and the consumer says at start that nothing catches it", async () => {
    const queueUrl = await emulator.createQueue(uniqueQueueName("no-dlq"));
    const t = startTestConsumer(emulator, queueUrl, async () => undefined);
    cleanups.push(() => t.close());
    await waitFor(
      "the warning",
      () => t.lines.some((l) => l.level === 40 && l.msg.startsWith("the queue has no dead-letter queue")),
      waitOptions,
    );
  });
});
