// Interruption handling against the real control plane: kwok spot nodes, the project's mutating webhook,
// the emulated Fargate profile, and the watcher's node index, owner resolution, migrator and follow-ups.
// Every test makes its own nodes and Deployments, so they pass in any order and alone.
import { randomBytes } from "node:crypto";
import {
  AppsV1Api,
  CoreV1Api,
  type V1Deployment,
  type V1Node,
  type V1PodSpec,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation, COMPUTE_LABEL } from "../../core/contract.ts";
import { PermanentError } from "../../core/errors.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, fargateComputeLabel, removeNode } from "../../harness/cluster/nodes.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { fargateProfiles } from "../../harness/fargate/profile-store.ts";
import {
  eventsFor,
  interruptionFor,
  startOrchestratorWebhook,
  startTestWatcher,
  testConfig,
  type RunningWebhook,
  type TestWatcher,
} from "../support/watcherParts.ts";

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);

const ns = useNamespace("watcher-migrate");
const suffix = randomBytes(3).toString("hex");
const profile = `watcher-migrate-${suffix}`;
const nodes: V1Node[] = [];
const watchers: TestWatcher[] = [];
let webhook: RunningWebhook;

beforeAll(async () => {
  const config = testConfig(ns.name);
  [webhook] = await Promise.all([
    startOrchestratorWebhook(kc, config, ns.name),
    fargateProfiles(kc).add({
      name: profile,
      selectors: [
        { namespace: ns.name, labels: { [config.compute.computeLabelKey]: config.compute.fargateLabel } },
      ],
    }),
  ]);
});

afterAll(async () => {
  for (const watcher of watchers) await watcher.close();
  await webhook?.close();
  await fargateProfiles(kc).remove(profile);
  await Promise.all(nodes.map((node) => removeNode(kc, nameOf(node))));
});

async function watcher(env: Record<string, string> = {}): Promise<TestWatcher> {
  const started = await startTestWatcher(testConfig(ns.name, env));
  watchers.push(started);
  return started;
}

const nameOf = (node: V1Node | undefined) => node?.metadata?.name ?? "";

/** Spot nodes of a node group of the test's own. */
async function spotNodes(group: string, count = 1): Promise<V1Node[]> {
  const made = await addSpotNodes(kc, count, { nodegroup: `${group}-${suffix}`, zone: "eu-west-1a" });
  nodes.push(...made);
  return made;
}

interface DeploymentOptions {
  replicas?: number;
  optedIn?: boolean;
  /** pins every pod to this node; otherwise pods spread over the node group */
  node?: string;
  group?: string;
  spec?: Partial<V1PodSpec>;
}

function deployment(name: string, options: DeploymentOptions): V1Deployment {
  const { replicas = 1, optedIn = true } = options;
  const placement: Partial<V1PodSpec> = options.node
    ? { nodeSelector: { "kubernetes.io/hostname": options.node } }
    : {
        nodeSelector: { "eks.amazonaws.com/nodegroup": `${options.group}-${suffix}` },
        topologySpreadConstraints: [
          {
            maxSkew: 1,
            topologyKey: "kubernetes.io/hostname",
            whenUnsatisfiable: "DoNotSchedule",
            labelSelector: { matchLabels: { app: name } },
          },
        ],
      };
  return {
    metadata: { name, annotations: optedIn ? { [Annotation.enabled]: "true" } : {} },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          ...placement,
          containers: [
            { name: "app", image: "registry.k8s.io/pause:3.10", ports: [{ containerPort: 8080 }] },
          ],
          ...options.spec,
        },
      },
    },
  };
}

async function createAvailable(body: V1Deployment): Promise<V1Deployment> {
  const name = body.metadata?.name ?? "";
  await apps.createNamespacedDeployment({ namespace: ns.name, body });
  return waitFor(`${name} to be available`, async () => {
    const d = await apps.readNamespacedDeployment({ namespace: ns.name, name });
    return (d.status?.availableReplicas ?? 0) === (body.spec?.replicas ?? 1) ? d : undefined;
  });
}

const read = (name: string) => apps.readNamespacedDeployment({ namespace: ns.name, name });

async function nodesOfPods(app: string): Promise<V1Node[]> {
  const pods = (await core.listNamespacedPod({ namespace: ns.name, labelSelector: `app=${app}` })).items;
  return Promise.all(
    pods
      .filter((p) => !p.metadata?.deletionTimestamp)
      .map((p) => core.readNode({ name: p.spec?.nodeName ?? "" })),
  );
}

describe("a spot interruption of a node running three Deployments", () => {
  it("flips the two opted-in ones once, even when the event arrives twice, follows them to healthy on Fargate, and leaves the third untouched", async () => {
    const w = await watcher();
    const group = await spotNodes("three", 2);
    const node = nameOf(group[0]);
    await core.createNamespacedService({
      namespace: ns.name,
      body: {
        metadata: { name: "web" },
        spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
    const [web, api, legacy] = await Promise.all([
      createAvailable(deployment("web", { node })),
      createAvailable(deployment("api", { replicas: 2, group: "three" })),
      createAvailable(deployment("legacy", { node, optedIn: false })),
    ]);
    expect((await nodesOfPods("api")).map(nameOf).sort()).toEqual(group.map(nameOf).sort());

    const event = interruptionFor(group[0]!);
    // SQS delivers at least once: the duplicate waits for the first and then finds nothing left to flip
    await Promise.all([w.handle(event), w.handle(event)]);

    for (const name of ["web", "api"]) {
      const stored = await read(name);
      expect(stored.metadata?.annotations).toMatchObject({
        [Annotation.compute]: "fargate",
        [Annotation.reason]: "spot-interruption",
        [Annotation.interruptedNode]: `${node} (${event.instanceId})`,
      });
      expect(stored.metadata?.labels?.[COMPUTE_LABEL]).toBe("fargate");
      // the real webhook placed the template for Fargate in the same write
      expect(stored.spec?.template.metadata?.labels?.["compute-type"]).toBe("fargate");
      expect(stored.spec?.template.spec?.topologySpreadConstraints).toBeUndefined();
      expect(stored.metadata?.annotations?.[Annotation.spotPlacement]).toBeDefined();
    }
    const untouched = await read("legacy");
    expect(untouched.metadata?.resourceVersion).toBe(legacy.metadata?.resourceVersion);
    expect(untouched.metadata?.annotations?.[Annotation.compute]).toBeUndefined();
    expect(w.alerts.interruptions).toHaveLength(1);
    expect(w.alerts.interruptions[0]).toMatchObject({ node, dryRun: false, skipped: [] });
    expect(w.alerts.interruptions[0]?.deployments.map((d) => d.name).sort()).toEqual(["api", "web"]);
    const flipped = await w.metrics.deploymentsFlipped.get();
    expect(flipped.values.find((v) => v.labels.reason === "spot-interruption")?.value).toBe(2);

    await w.idle();
    for (const d of [web, api]) {
      const name = d.metadata?.name ?? "";
      const stored = await read(name);
      expect(stored.metadata?.annotations?.[Annotation.rollout], `${name} rollout`).toBe("healthy");
      const placedOn = await nodesOfPods(name);
      expect(placedOn).toHaveLength(d.spec?.replicas ?? 1);
      for (const n of placedOn) expect(n.metadata?.labels?.[fargateComputeLabel]).toBe("fargate");
      const reasons = (await eventsFor(kc, stored)).map((e) => e.reason).sort();
      expect(reasons).toEqual(["MigratedToFargate", "MigratingToFargate"]);
    }
    expect(w.alerts.summaries).toEqual([expect.objectContaining({ ok: true })]);
    expect(w.alerts.summaries[0]?.lines).toHaveLength(2);
    expect(w.alerts.problems).toEqual([]);
    expect(await eventsFor(kc, legacy)).toEqual([]);
  });
});

describe("AWS Health scheduled changes and Auto Scaling terminations", () => {
  it("a scheduled retirement moves the opted-in Deployments of every instance it names in the cluster", async () => {
    const w = await watcher();
    const group = await spotNodes("retire", 2);
    await Promise.all(group.map((n, i) => createAvailable(deployment(`retire-${i}`, { node: nameOf(n) }))));
    const first = interruptionFor(group[0]!, "scheduled-change");
    const second = interruptionFor(group[1]!);
    if (first.kind !== "scheduled-change") throw new Error("not a scheduled change");
    // one Health event naming both instances and one of another account's
    await w.handle({ ...first, instanceIds: [first.instanceId, "i-0000000000000dead", second.instanceId] });

    for (const [i, node] of group.entries()) {
      const stored = await read(`retire-${i}`);
      expect(stored.metadata?.annotations).toMatchObject({
        [Annotation.compute]: "fargate",
        [Annotation.reason]: "scheduled-change",
        [Annotation.interruptedNode]: `${nameOf(node)} (${i === 0 ? first.instanceId : second.instanceId})`,
      });
      const notes = (await eventsFor(kc, stored)).map((e) => e.note);
      expect(notes).toContainEqual(
        expect.stringMatching(/^AWS Health scheduled change AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED for node /),
      );
    }
    const flipped = await w.metrics.deploymentsFlipped.get();
    expect(flipped.values.find((v) => v.labels.reason === "scheduled-change")?.value).toBe(2);
  });

  it("a scheduled change that does not take the instance down only alerts", async () => {
    const w = await watcher();
    const [node] = await spotNodes("notice");
    const before = await createAvailable(deployment("notice", { node: nameOf(node) }));
    const event = interruptionFor(node!, "scheduled-change");
    if (event.kind !== "scheduled-change") throw new Error("not a scheduled change");
    await w.handle({ ...event, eventTypeCode: "AWS_EC2_OPERATIONAL_NOTIFICATION" });
    await w.idle();
    const after = await read("notice");
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    const notice = (await eventsFor(kc, after)).find((e) => e.reason === "ScheduledChangeAnnounced");
    expect(notice?.note).toMatch(/does not take the instance down: alert only\)$/);
  });

  it("an Auto Scaling termination moves them, then completes the lifecycle action once they are healthy on Fargate", async () => {
    const w = await watcher();
    const [node] = await spotNodes("scale-in");
    await createAvailable(deployment("scale-in", { node: nameOf(node) }));
    const event = interruptionFor(node!, "asg-termination");
    await w.handle(event);

    const stored = await read("scale-in");
    // the handling ends with the verdict: the hook is released only then
    expect(stored.metadata?.annotations).toMatchObject({
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "asg-termination",
      [Annotation.rollout]: "healthy",
    });
    expect(w.lifecycle.completed).toEqual([event]);
  });
});

describe("events the watcher does not move anything for", () => {
  it("rejects an instance that is not a node of this cluster as permanent", async () => {
    const w = await watcher();
    const [node] = await spotNodes("foreign");
    const result = w.handle({ ...interruptionFor(node!), instanceId: "i-0000000000000dead" });
    await expect(result).rejects.toBeInstanceOf(PermanentError);
    await expect(result).rejects.toMatchObject({ kind: "foreign-instance" });
  });

  it("skips a Fargate-incompatible Deployment with a Warning Event and an alert naming why", async () => {
    const w = await watcher();
    const [node] = await spotNodes("agent");
    const before = await createAvailable(
      deployment("agent", {
        node: nameOf(node),
        spec: {
          containers: [
            {
              name: "agent",
              image: "registry.k8s.io/pause:3.10",
              securityContext: { privileged: true },
              ports: [{ containerPort: 9100, hostPort: 9100 }],
            },
          ],
        },
      }),
    );
    await w.handle(interruptionFor(node!));
    await w.idle();

    const after = await read("agent");
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    const warning = (await eventsFor(kc, after)).find((e) => e.reason === "FargateIncompatible");
    expect(warning).toMatchObject({
      type: "Warning",
      reportingController: "spot-orchestrator.io/watcher",
      reportingInstance: "watcher-test",
    });
    expect(warning?.note).toContain('container "agent" is privileged');
    expect(w.alerts.interruptions).toEqual([
      expect.objectContaining({
        skipped: [
          {
            deployment: { namespace: ns.name, name: "agent" },
            why: expect.stringContaining('container "agent" uses hostPort 9100'),
          },
        ],
      }),
    ]);
  });

  it("only alerts on a rebalance recommendation by default", async () => {
    const w = await watcher();
    const [node] = await spotNodes("rebalance");
    const batch = await createAvailable(deployment("batch", { node: nameOf(node) }));
    await w.handle(interruptionFor(node!, "rebalance-recommendation"));
    await w.idle();

    const after = await read("batch");
    expect(after.metadata?.resourceVersion).toBe(batch.metadata?.resourceVersion);
    const notice = (await eventsFor(kc, after)).find((e) => e.reason === "RebalanceRecommended");
    expect(notice).toMatchObject({ type: "Normal" });
    expect(w.alerts.interruptions).toEqual([
      expect.objectContaining({
        node: nameOf(node),
        deployments: [],
        event: expect.objectContaining({ kind: "rebalance-recommendation" }),
        skipped: [expect.objectContaining({ deployment: { namespace: ns.name, name: "batch" } })],
      }),
    ]);
  });

  it("writes nothing in dry run, and says what it would have done", async () => {
    const dryRun = await watcher({ DRY_RUN: "true" });
    const [node] = await spotNodes("dry");
    const before = await createAvailable(deployment("dry", { node: nameOf(node) }));
    await dryRun.handle(interruptionFor(node!));
    await dryRun.idle();
    const after = await read("dry");
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(await eventsFor(kc, after)).toEqual([]);
    expect(dryRun.alerts.interruptions).toEqual([
      expect.objectContaining({ dryRun: true, deployments: [{ namespace: ns.name, name: "dry" }] }),
    ]);
  });
});

describe("a move to Fargate that cannot finish", () => {
  it("is recorded as failed, alerted, and left on Fargate", async () => {
    // after its verdict it is followed 3 s more (the late-healthy grace of testConfig), and still cannot finish
    const impatient = await watcher({ ROLLOUT_TIMEOUT: "4s" });
    const [node] = await spotNodes("stuck");
    // must run next to "anchor", which stays on its spot node: no Fargate node can satisfy that
    await createAvailable(deployment("anchor", { node: nameOf(node), optedIn: false }));
    await createAvailable(
      deployment("stuck", {
        node: nameOf(node),
        spec: {
          affinity: {
            podAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { labelSelector: { matchLabels: { app: "anchor" } }, topologyKey: "kubernetes.io/hostname" },
              ],
            },
          },
        },
      }),
    );
    await impatient.handle(interruptionFor(node!));
    await impatient.idle();

    const after = await read("stuck");
    expect(after.metadata?.annotations?.[Annotation.compute]).toBe("fargate");
    expect(after.metadata?.annotations?.[Annotation.rollout]).toMatch(/^failed: /);
    const failure = (await eventsFor(kc, after)).find((e) => e.reason === "MigrationFailed");
    expect(failure).toMatchObject({ type: "Warning" });
    expect(impatient.alerts.problems).toEqual([
      expect.objectContaining({ message: expect.stringContaining(`${ns.name}/stuck to Fargate failed`) }),
    ]);
    expect(impatient.alerts.summaries).toEqual([expect.objectContaining({ ok: false })]);
  });
});

describe("a new leader", () => {
  it("resumes following a move that a previous leader left progressing", async () => {
    const [node] = await spotNodes("left");
    const left = deployment("left-behind", { node: nameOf(node) });
    left.metadata!.annotations = {
      ...left.metadata!.annotations,
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "spot-interruption",
      [Annotation.interruptedNode]: "ip-10-0-0-1.eu-west-1.compute.internal (i-0123456789abcdef0)",
      [Annotation.rollout]: "progressing",
    };
    await apps.createNamespacedDeployment({ namespace: ns.name, body: left });
    const successor = await watcher();
    expect(await successor.resume()).toBe(1);
    await successor.idle();
    const after = await read("left-behind");
    expect(after.metadata?.annotations?.[Annotation.rollout]).toBe("healthy");
    expect((await eventsFor(kc, after)).map((e) => e.reason)).toEqual(["MigratedToFargate"]);
  });
});
