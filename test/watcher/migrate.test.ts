// Interruption handling against the real control plane: kwok spot nodes, the project's mutating webhook,
// the emulated Fargate profile, and the watcher's node index, owner resolution, migrator and follow-up.
import { randomBytes } from "node:crypto";
import {
  AppsV1Api,
  CoreV1Api,
  type V1Deployment,
  type V1Node,
  type V1PodSpec,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { PermanentError } from "../../core/errors.ts";
import { testKubeConfig } from "../cluster/kube.ts";
import { useNamespace } from "../cluster/namespace.ts";
import { addSpotNodes, fargateComputeLabel, removeNode } from "../cluster/nodes.ts";
import { waitFor } from "../cluster/wait.ts";
import { fargateProfiles } from "../fargate/profile-store.ts";
import {
  eventsFor,
  interruptionFor,
  quietLog,
  startOrchestratorWebhook,
  startTestWatcher,
  testConfig,
  type RunningWebhook,
  type TestWatcher,
} from "./harness.ts";

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);

const ns = useNamespace("watcher-migrate");
const nodegroup = `migrate-${randomBytes(3).toString("hex")}`;
const profile = `watcher-${nodegroup}`;
let spotNodes: V1Node[] = [];
let webhook: RunningWebhook;
let watcher: TestWatcher;

beforeAll(async () => {
  const config = testConfig(ns.name);
  [spotNodes, webhook] = await Promise.all([
    addSpotNodes(kc, 2, { nodegroup, zone: "eu-west-1a" }),
    startOrchestratorWebhook(kc, config, ns.name),
    fargateProfiles(kc).add({
      name: profile,
      selectors: [
        { namespace: ns.name, labels: { [config.compute.computeLabelKey]: config.compute.fargateLabel } },
      ],
    }),
  ]);
  watcher = await startTestWatcher(config);
});

afterAll(async () => {
  await watcher?.close();
  await webhook?.close();
  await fargateProfiles(kc).remove(profile);
  await Promise.all(spotNodes.map((node) => removeNode(kc, node.metadata?.name ?? "")));
});

const nameOf = (node: V1Node | undefined) => node?.metadata?.name ?? "";

interface DeploymentOptions {
  replicas?: number;
  optedIn?: boolean;
  /** pins every pod to this node; otherwise pods spread over the test's nodegroup */
  node?: string;
  spec?: Partial<V1PodSpec>;
}

function deployment(name: string, options: DeploymentOptions = {}): V1Deployment {
  const { replicas = 1, optedIn = true } = options;
  const placement: Partial<V1PodSpec> = options.node
    ? { nodeSelector: { "kubernetes.io/hostname": options.node } }
    : {
        nodeSelector: { "eks.amazonaws.com/nodegroup": nodegroup },
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
  let web: V1Deployment;
  let api: V1Deployment;
  let legacy: V1Deployment;

  beforeAll(async () => {
    const node = nameOf(spotNodes[0]);
    await core.createNamespacedService({
      namespace: ns.name,
      body: {
        metadata: { name: "web" },
        spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
    [web, api, legacy] = await Promise.all([
      createAvailable(deployment("web", { node })),
      createAvailable(deployment("api", { replicas: 2 })),
      createAvailable(deployment("legacy", { node, optedIn: false })),
    ]);
    const apiNodes = (await nodesOfPods("api")).map(nameOf).sort();
    expect(apiNodes).toEqual(spotNodes.map(nameOf).sort());
  });

  it("flips the two opted-in Deployments once, even when the event arrives twice, and leaves the other untouched", async () => {
    const event = interruptionFor(spotNodes[0]!);
    const node = nameOf(spotNodes[0]);
    // SQS delivers at least once: the duplicate waits for the first and then finds nothing left to flip
    await Promise.all([
      watcher.migrator(event, { log: quietLog, receivedAt: Date.now() }),
      watcher.migrator(event, { log: quietLog, receivedAt: Date.now() }),
    ]);

    for (const name of ["web", "api"]) {
      const stored = await read(name);
      expect(stored.metadata?.annotations).toMatchObject({
        [Annotation.compute]: "fargate",
        [Annotation.reason]: "spot-interruption",
        [Annotation.interruptedNode]: `${node} (${event.instanceId})`,
      });
      // the real webhook placed the template for Fargate in the same write
      expect(stored.spec?.template.metadata?.labels?.["compute-type"]).toBe("fargate");
      expect(stored.spec?.template.spec?.topologySpreadConstraints).toBeUndefined();
      expect(stored.metadata?.annotations?.[Annotation.spotPlacement]).toBeDefined();
    }
    const untouched = await read("legacy");
    expect(untouched.metadata?.resourceVersion).toBe(legacy.metadata?.resourceVersion);
    expect(untouched.metadata?.annotations?.[Annotation.compute]).toBeUndefined();

    expect(watcher.alerts.interruptions).toHaveLength(1);
    expect(watcher.alerts.interruptions[0]).toMatchObject({
      node,
      dryRun: false,
      skipped: [],
    });
    expect(watcher.alerts.interruptions[0]?.deployments.map((d) => d.name).sort()).toEqual(["api", "web"]);
    const flipped = await watcher.metrics.deploymentsFlipped.get();
    expect(flipped.values.find((v) => v.labels.reason === "spot-interruption")?.value).toBe(2);
  });

  it("follows both moves until they are healthy on Fargate nodes", async () => {
    await watcher.migrator.idle();
    for (const d of [web, api]) {
      const name = d.metadata?.name ?? "";
      const stored = await read(name);
      expect(stored.metadata?.annotations?.[Annotation.rollout], `${name} rollout`).toBe("healthy");
      const nodes = await nodesOfPods(name);
      expect(nodes).toHaveLength(d.spec?.replicas ?? 1);
      for (const node of nodes) expect(node.metadata?.labels?.[fargateComputeLabel]).toBe("fargate");
      const reasons = (await eventsFor(kc, stored)).map((e) => e.reason).sort();
      expect(reasons).toEqual(["MigratedToFargate", "MigratingToFargate"]);
    }
    expect(watcher.alerts.summaries).toHaveLength(1);
    expect(watcher.alerts.summaries[0]).toMatchObject({ ok: true });
    expect(watcher.alerts.summaries[0]?.lines).toHaveLength(2);
    expect(watcher.alerts.problems).toEqual([]);
    expect(await eventsFor(kc, legacy)).toEqual([]);
  });
});

describe("events the watcher does not move anything for", () => {
  it("rejects an instance that is not a node of this cluster as permanent", async () => {
    const event = { ...interruptionFor(spotNodes[1]!), instanceId: "i-0000000000000dead" };
    const result = watcher.migrator(event, { log: quietLog, receivedAt: Date.now() });
    await expect(result).rejects.toBeInstanceOf(PermanentError);
    await expect(result).rejects.toMatchObject({ kind: "foreign-instance" });
  });

  it("skips a Fargate-incompatible Deployment with a Warning Event and an alert naming why", async () => {
    const node = nameOf(spotNodes[1]);
    await createAvailable(
      deployment("agent", {
        node,
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
    const before = await read("agent");
    const alertsBefore = watcher.alerts.interruptions.length;
    await watcher.migrator(interruptionFor(spotNodes[1]!), { log: quietLog, receivedAt: Date.now() });
    await watcher.migrator.idle();

    const after = await read("agent");
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    const warning = (await eventsFor(kc, after)).find((e) => e.reason === "FargateIncompatible");
    expect(warning).toMatchObject({
      type: "Warning",
      reportingController: "spot-orchestrator.io/watcher",
      reportingInstance: "watcher-test",
    });
    expect(warning?.note).toContain('container "agent" is privileged');
    const alert = watcher.alerts.interruptions[alertsBefore];
    expect(alert?.skipped).toEqual([
      {
        deployment: { namespace: ns.name, name: "agent" },
        why: expect.stringContaining('container "agent" uses hostPort 9100'),
      },
    ]);
  });

  it("only alerts on a rebalance recommendation by default", async () => {
    const node = nameOf(spotNodes[1]);
    const batch = await createAvailable(deployment("batch", { node }));
    const alertsBefore = watcher.alerts.interruptions.length;
    await watcher.migrator(interruptionFor(spotNodes[1]!, "rebalance-recommendation"), {
      log: quietLog,
      receivedAt: Date.now(),
    });
    await watcher.migrator.idle();

    const after = await read("batch");
    expect(after.metadata?.resourceVersion).toBe(batch.metadata?.resourceVersion);
    const notice = (await eventsFor(kc, after)).find((e) => e.reason === "RebalanceRecommended");
    expect(notice).toMatchObject({ type: "Normal" });
    const alert = watcher.alerts.interruptions[alertsBefore];
    expect(alert).toMatchObject({ node, deployments: [], event: { kind: "rebalance-recommendation" } });
    expect(alert?.skipped.map((s) => s.deployment.name).sort()).toEqual(["agent", "batch"]);
  });

  it("writes nothing in dry run, and says what it would have done", async () => {
    const dryRun = await startTestWatcher(testConfig(ns.name, { DRY_RUN: "true" }));
    try {
      const before = await read("batch");
      await dryRun.migrator(interruptionFor(spotNodes[1]!), { log: quietLog, receivedAt: Date.now() });
      await dryRun.migrator.idle();
      const after = await read("batch");
      expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
      expect((await eventsFor(kc, after)).map((e) => e.reason)).toEqual(["RebalanceRecommended"]);
      expect(dryRun.alerts.interruptions).toEqual([
        expect.objectContaining({ dryRun: true, deployments: [{ namespace: ns.name, name: "batch" }] }),
      ]);
    } finally {
      await dryRun.close();
    }
  });
});

describe("a move to Fargate that cannot finish", () => {
  it("is recorded as failed, alerted, and left on Fargate", async () => {
    const node = nameOf(spotNodes[0]);
    // must run next to "legacy", which stays on its spot node: no Fargate node can satisfy that
    const stuck = deployment("stuck", {
      node,
      spec: {
        affinity: {
          podAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [
              { labelSelector: { matchLabels: { app: "legacy" } }, topologyKey: "kubernetes.io/hostname" },
            ],
          },
        },
      },
    });
    await createAvailable(stuck);
    const impatient = await startTestWatcher(testConfig(ns.name, { ROLLOUT_TIMEOUT: "4s" }));
    try {
      await impatient.migrator(interruptionFor(spotNodes[0]!), { log: quietLog, receivedAt: Date.now() });
      await impatient.migrator.idle();

      const after = await read("stuck");
      expect(after.metadata?.annotations?.[Annotation.compute]).toBe("fargate");
      expect(after.metadata?.annotations?.[Annotation.rollout]).toMatch(/^failed: /);
      const failure = (await eventsFor(kc, after)).find((e) => e.reason === "MigrationFailed");
      expect(failure).toMatchObject({ type: "Warning" });
      expect(impatient.alerts.problems).toEqual([
        expect.objectContaining({ message: expect.stringContaining(`${ns.name}/stuck to Fargate failed`) }),
      ]);
      expect(impatient.alerts.summaries).toEqual([expect.objectContaining({ ok: false })]);
    } finally {
      await impatient.close();
    }
  });
});

describe("a new leader", () => {
  it("resumes following a move that a previous leader left progressing", async () => {
    const left = deployment("left-behind");
    left.metadata!.annotations = {
      ...left.metadata!.annotations,
      [Annotation.compute]: "fargate",
      [Annotation.reason]: "spot-interruption",
      [Annotation.interruptedNode]: "ip-10-0-0-1.eu-west-1.compute.internal (i-0123456789abcdef0)",
      [Annotation.rollout]: "progressing",
    };
    await apps.createNamespacedDeployment({ namespace: ns.name, body: left });
    const successor = await startTestWatcher(testConfig(ns.name));
    try {
      expect(await successor.migrator.resume()).toBe(1);
      await successor.migrator.idle();
      const after = await read("left-behind");
      expect(after.metadata?.annotations?.[Annotation.rollout]).toBe("healthy");
      expect((await eventsFor(kc, after)).map((e) => e.reason)).toEqual(["MigratedToFargate"]);
      expect(successor.alerts.summaries).toEqual([expect.objectContaining({ ok: true })]);
    } finally {
      await successor.close();
    }
  });
});
