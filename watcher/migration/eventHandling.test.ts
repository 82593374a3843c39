import { readFileSync } from "node:fs";
import type { V1Node } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config.ts";
import { PermanentError, RetryableError } from "../../core/errors.ts";
import { quietLog as log } from "../../test/support/log.ts";
import { recordingAlerter, recordingLifecycle } from "../../test/watcher/fakes.ts";
import type { NodeLookup } from "../cluster/nodeIndex.ts";
import { eventHandling } from "./eventHandling.ts";
import type { Verdict } from "../moves/followUp.ts";
import { InterruptionLog } from "../recovery/interruptionLog.ts";
import type { InterruptionEvent } from "../sqs/interruptionEvent.ts";
import { buildEventBridgeEvent, type BuildEventOptions } from "../sqs/eventBuilder.ts";
import { parseMessageBody } from "../sqs/parseEvent.ts";

const ours = { "i-0a1b2c3d": "ip-10-0-1-7", "i-0b662ef9931388ba0": "ip-10-0-1-8" } as Record<string, string>;
const foreign = "i-0c7d8e9f0a1b2c3d4";
const nodes: NodeLookup = {
  byInstanceId: (id) =>
    ours[id]
      ? ({ metadata: { name: ours[id], labels: { "topology.kubernetes.io/zone": "eu-west-1a" } } } as V1Node)
      : undefined,
  byName: () => undefined,
  all: () => [],
  synced: Promise.resolve(),
};

const event = (options: Omit<BuildEventOptions, "region">, instances?: string[]): InterruptionEvent => {
  const built = buildEventBridgeEvent({ region: "eu-west-1", ...options });
  if (instances) built.detail["affectedEntities"] = instances.map((entityValue) => ({ entityValue }));
  return parseMessageBody(JSON.stringify(built));
};

const verdict = (ok: boolean): Promise<Verdict> =>
  Promise.resolve({
    ref: { namespace: "shop", name: ok ? "web" : "api" },
    target: "fargate",
    result: ok ? { ok: true, seconds: 30 } : { ok: false, why: "unschedulable on Fargate" },
  });

function setup(env: Record<string, string> = {}, outcomes: Record<string, Promise<Verdict>[]> = {}) {
  const handled: string[] = [];
  const migrator = {
    async handle(e: InterruptionEvent) {
      handled.push(e.instanceId);
      if (!ours[e.instanceId]) throw new PermanentError("foreign-instance", `${e.instanceId} is not ours`);
      return outcomes[e.instanceId] ?? [];
    },
  };
  const lifecycle = recordingLifecycle();
  const alerter = recordingAlerter();
  const interruptions = new InterruptionLog(60_000);
  const term = new AbortController();
  const handle = eventHandling({
    nodes,
    interruptions,
    migrator,
    lifecycle,
    alerter,
    config: loadConfig({ env }),
    signal: term.signal,
  });
  return {
    handled,
    lifecycle,
    alerter,
    interruptions,
    term,
    handle: (e: InterruptionEvent) => handle(e, { log, receivedAt: Date.now() }),
  };
}

describe("eventHandling", () => {
  it("moves every instance of a scheduled change that is a node of the cluster, leaving the others", async () => {
    const t = setup();
    const change = event({ kind: "scheduled-change", instanceId: foreign }, [
      foreign,
      "i-0a1b2c3d",
      "i-0b662ef9931388ba0",
    ]);
    await t.handle(change);
    expect(t.handled).toEqual([foreign, "i-0a1b2c3d", "i-0b662ef9931388ba0"]);
    expect([...t.interruptions.nodes()].sort()).toEqual(["ip-10-0-1-7", "ip-10-0-1-8"]);
  });

  it("gives an event none of whose instances is in the cluster up as foreign", async () => {
    const t = setup();
    const change = event({ kind: "scheduled-change", instanceId: foreign }, [foreign, "i-0123456789abcdef0"]);
    await expect(t.handle(change)).rejects.toMatchObject({ kind: "foreign-instance" });
  });

  it("completes an Auto Scaling termination's lifecycle action once every move off it is healthy", async () => {
    const t = setup({}, { "i-0a1b2c3d": [verdict(true)] });
    const termination = event({ kind: "asg-termination", instanceId: "i-0a1b2c3d" });
    await t.handle(termination);
    expect(t.lifecycle.completed).toEqual([termination]);
  });

  it("completes the lifecycle action of a hook that notifies the queue itself, once the moves are healthy", async () => {
    const t = setup({}, { "i-0b662ef9931388ba0": [verdict(true)] });
    const notification = parseMessageBody(
      readFileSync(
        new URL(
          "../../test/fixtures/aws-events/autoscaling-hook-notification-terminate.json",
          import.meta.url,
        ),
        "utf8",
      ),
    );
    await t.handle(notification);
    expect(t.handled).toEqual(["i-0b662ef9931388ba0"]);
    expect(t.lifecycle.completed).toEqual([notification]);
  });

  it("leaves the lifecycle action to its timeout when a move off the instance failed, and says so", async () => {
    const t = setup({}, { "i-0a1b2c3d": [verdict(true), verdict(false)] });
    await t.handle(event({ kind: "asg-termination", instanceId: "i-0a1b2c3d" }));
    expect(t.lifecycle.completed).toEqual([]);
    expect(t.alerter.problems).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ failed: "shop/api" }) }),
    ]);
  });

  it("leaves it to the next leader when the term ends before the moves are done", async () => {
    const t = setup({}, { "i-0a1b2c3d": [verdict(true)] });
    t.term.abort();
    await expect(
      t.handle(event({ kind: "asg-termination", instanceId: "i-0a1b2c3d" })),
    ).rejects.toBeInstanceOf(RetryableError);
    expect(t.lifecycle.completed).toEqual([]);
  });

  it("does not complete the lifecycle action of a group it only alerts on, nor of another cluster's instance", async () => {
    const alertOnly = setup({ ASG_TERMINATION_ACTION: "alert" });
    await alertOnly.handle(event({ kind: "asg-termination", instanceId: "i-0a1b2c3d" }));
    expect(alertOnly.lifecycle.completed).toEqual([]);
    const t = setup();
    await expect(t.handle(event({ kind: "asg-termination", instanceId: foreign }))).rejects.toBeInstanceOf(
      PermanentError,
    );
    expect(t.lifecycle.completed).toEqual([]);
  });

  it("keeps a rebalance recommendation out of the storm guard", async () => {
    const t = setup();
    await t.handle(event({ kind: "rebalance-recommendation", instanceId: "i-0a1b2c3d" }));
    expect(t.interruptions.nodes().size).toBe(0);
  });
});
