import type { V1Deployment, V1Node } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { loadConfig } from "../../core/config.ts";
import { PermanentError, RetryableError } from "../../core/errors.ts";
import { createLogger } from "../../core/log.ts";
import {
  FakeDeployments,
  recordingAlerter,
  recordingRecorder,
  unreachable,
} from "../../test/watcher/fakes.ts";
import type { NodeLookup } from "../cluster/nodeIndex.ts";
import { FollowUps } from "../followUp.ts";
import { createWatcherMetrics } from "../metrics.ts";
import type { Ec2Event } from "../sqs/ec2Event.ts";
import { FlipsFailed, Migrator } from "./migrator.ts";

const log = createLogger({ level: "silent", format: "json" });
const config = loadConfig({ env: {} });
const NODE = "ip-10-0-1-7.eu-west-1.compute.internal";
const event: Ec2Event = {
  id: "e-1",
  kind: "spot-interruption",
  detailType: "EC2 Spot Instance Interruption Warning",
  instanceId: "i-0123456789abcdef0",
  region: "eu-west-1",
  account: "123456789012",
  time: new Date(),
  deadline: new Date(Date.now() + 120_000),
};

function setup() {
  const deployments = new FakeDeployments();
  const recorder = recordingRecorder();
  const alerter = recordingAlerter();
  const term = new AbortController();
  const common = {
    deployments,
    recorder,
    alerter,
    metrics: createWatcherMetrics(),
    config,
    log,
    signal: term.signal,
  };
  const followUps = new FollowUps({ ...common, followRollout: async () => ({ ok: true, seconds: 9 }) });
  const node: V1Node = { metadata: { name: NODE } };
  const nodes: NodeLookup = {
    all: () => [node],
    byName: () => node,
    byInstanceId: (id) => (id === event.instanceId ? node : undefined),
    synced: Promise.resolve(),
  };
  const migrator = new Migrator({
    ...common,
    followUps,
    nodes,
    affectedBy: async () => deployments.list(),
  });
  const handle = () => migrator.handle(event, { log, receivedAt: Date.now() });
  return { deployments, migrator, followUps, alerter, handle };
}

const web: V1Deployment = {
  metadata: { name: "web", namespace: "shop", annotations: { [Annotation.enabled]: "true" } },
  spec: { selector: {}, template: { spec: { containers: [{ name: "app" }] } } },
};

describe("a flip", () => {
  it.each([
    {
      what: "an unrelated change in between: decided again on the new version and stored",
      change: (d: V1Deployment) => (d.metadata!.annotations!["team"] = "checkout"),
      writes: 1,
      compute: "fargate",
      reason: "spot-interruption",
    },
    {
      what: "a move to Fargate in between (a person, or the same event again): left alone",
      change: (d: V1Deployment) =>
        Object.assign(d.metadata!.annotations!, {
          [Annotation.compute]: "fargate",
          [Annotation.reason]: "manual",
        }),
      writes: 0,
      compute: "fargate",
      reason: "manual",
    },
  ])("after $what", async ({ change, writes, compute, reason }) => {
    const { deployments, handle, followUps } = setup();
    deployments.put(web);
    deployments.interfere("shop/web", change);
    await handle();
    await followUps.idle();
    expect(deployments.writes.filter((w) => w.patch.annotations?.[Annotation.compute])).toHaveLength(writes);
    expect(deployments.annotations("web")).toMatchObject({
      [Annotation.compute]: compute,
      [Annotation.reason]: reason,
    });
  });

  it("of a Deployment deleted in between is skipped for good, and the event is done", async () => {
    const { deployments, handle, alerter } = setup();
    deployments.put(web);
    deployments.failNext("patch", new PermanentError("not-found", "HTTP 404", { status: 404 }));
    await expect(handle()).resolves.toEqual([]); // no move to follow
    expect(alerter.interruptions[0]?.skipped).toEqual([
      { deployment: { namespace: "shop", name: "web" }, why: "deleted" },
    ]);
  });

  it("that cannot be stored leaves the event to come back", async () => {
    const { deployments, handle } = setup();
    deployments.put(web);
    for (let i = 0; i < 3; i++) deployments.failNext("patch", unreachable());
    const failure = await handle().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(FlipsFailed);
    expect(failure).toBeInstanceOf(RetryableError);
    // the Deployments it would have moved, for the report if the event is given up
    expect((failure as FlipsFailed).deployments.map((d) => d.metadata?.name)).toEqual(["web"]);
    expect(deployments.annotations("web")[Annotation.compute]).toBeUndefined();
    // the event comes back, and this time the flip is stored
    await handle();
    expect(deployments.annotations("web")[Annotation.compute]).toBe("fargate");
  });
});
