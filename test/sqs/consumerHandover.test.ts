// What a hand-over and a crash cost a message, with the real SDK against the SQS emulator (which, like SQS,
// keeps an aborted long poll open on its side and hands it the next message): a consumer stopped gracefully
// lets its last poll finish and releases what it got, so the next consumer handles a message sent right after
// SIGTERM within seconds, not after a visibility timeout; a consumer killed right after a receive holds the
// message for its 10 s visibility at most. Times are those the processes record.
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { InterruptionEvent } from "../../watcher/sqs/interruptionEvent.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { clusterDir } from "../../harness/cluster/paths.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { readLog, type LogLine } from "../../harness/stack/logs.ts";
import { spawnLogged, type OrchestratorProcess } from "../../harness/stack/process.ts";
import { startSqsEmulator, useDummyAwsCredentials, type SqsEmulator } from "../../harness/sqs/emulator.ts";
import { send, startTestConsumer, uniqueQueueName } from "../support/sqsConsumer.ts";

const script = fileURLToPath(new URL("./consumerProcess.ts", import.meta.url));
const logDir = join(clusterDir, "logs", "sqs-handover");
const waitOptions = { timeoutMs: 40_000, intervalMs: 20 };
let emulator: SqsEmulator;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  useDummyAwsCredentials();
  emulator = await startSqsEmulator();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await emulator.stop();
});

const spotEvent = (instanceId: string) =>
  buildEventBridgeEvent({ kind: "spot-interruption", instanceId, region: "us-east-1" });

/** A consumer process on the queue, logging to `<logDir>/<queue name>.log`. */
function consumerProcess(queueUrl: string, mode: "handle" | "hold"): OrchestratorProcess {
  const env = { PATH: process.env["PATH"], AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };
  const name = queueUrl.split("/").at(-1)!;
  const args = [script, queueUrl, emulator.endpoint, mode];
  const child = spawnLogged(name, process.execPath, args, { env, logDir });
  cleanups.push(() => child.stop(1_000));
  return child;
}

/** The first line of the process's log that says `msg` about the event, once there is one. */
const logged = (child: OrchestratorProcess, msg: string, eventId: string) =>
  waitFor(
    `${child.name} to log "${msg}" for ${eventId}`,
    () => readLog(child.logFile).find((l: LogLine) => l.msg === msg && l["eventId"] === eventId),
    waitOptions,
  );

/**
 * A consumer in this process (the next leader) and when its handler got each event. `waitTimeSeconds`: the
 * emulator answers a long poll with a message that becomes visible again only when the poll ends, so short
 * polls tell when that happened.
 */
function nextConsumer(queueUrl: string, waitTimeSeconds = 20) {
  const handledAt = new Map<string, number>();
  const handler = async (event: InterruptionEvent) => void handledAt.set(event.id, Date.now());
  const next = startTestConsumer(emulator, queueUrl, handler, { waitTimeSeconds });
  cleanups.push(() => next.close());
  return { handledAt, next };
}

describe("a consumer's end", () => {
  it("on SIGTERM lets the last poll finish and releases what it got: the next consumer has it within seconds", async () => {
    const queueUrl = await emulator.createQueue(uniqueQueueName("handover"));
    const sender = emulator.client();
    cleanups.push(async () => sender.destroy());
    const leaving = consumerProcess(queueUrl, "handle");
    // once it has handled a first event, its next long poll is open
    const first = spotEvent("i-0a1b2c3d");
    await send(sender, queueUrl, first);
    await logged(leaving, "handler called", first.id);

    leaving.child.kill("SIGTERM");
    const late = spotEvent("i-0b662ef9931388ba0");
    const sentAt = Date.now();
    const messageId = await send(sender, queueUrl, late);
    expect(await leaving.exited).toBe(0);

    const released = readLog(leaving.logFile).find(
      (l) => l.msg === "released the messages of the last receive; the next consumer gets them at once",
    );
    expect(released?.["messageIds"]).toEqual([messageId]);
    expect(readLog(leaving.logFile).some((l) => l["eventId"] === late.id)).toBe(false); // not handled there
    const { handledAt } = nextConsumer(queueUrl);
    await waitFor("the next consumer to handle it", () => handledAt.has(late.id), waitOptions);
    // an aborted poll would have held it for the whole visibility timeout (10 s)
    expect(handledAt.get(late.id)! - sentAt).toBeLessThan(5_000);
  });

  it("on SIGKILL right after a receive holds the message for its 10 s visibility at most", async () => {
    const queueUrl = await emulator.createQueue(uniqueQueueName("crash"));
    const sender = emulator.client();
    cleanups.push(async () => sender.destroy());
    const crashing = consumerProcess(queueUrl, "hold");
    const event = spotEvent("i-0c7d8e9f0a1b2c3d4");
    await send(sender, queueUrl, event);
    const received = await logged(crashing, "handler called", event.id);
    crashing.child.kill("SIGKILL");
    await crashing.exited;

    const { handledAt } = nextConsumer(queueUrl, 1);
    await waitFor("the next consumer to handle it", () => handledAt.has(event.id), waitOptions);
    const heldMs = handledAt.get(event.id)! - Date.parse(String(received["time"]));
    expect(heldMs).toBeGreaterThanOrEqual(9_000); // it was invisible: the crashed consumer had it
    expect(heldMs).toBeLessThan(13_000); // SQS's default, and the old receive's, was 30 s
  });
});
