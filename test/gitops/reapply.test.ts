// GitOps end to end: Deployments applied from git by kubectl (client-side), kubectl --server-side and Flux's
// apply engine go through a real spot interruption (SQS → watcher → webhook → Fargate) and a real recovery;
// re-applying the same manifests during the Fargate stint and after recovery changes nothing. A manifest
// that says `compute: spot` never pulls a Deployment off Fargate while the orchestrator keeps it there.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Deployment, V1Node, V1PodTemplateSpec } from "@kubernetes/client-node";
import fastJsonPatch from "fast-json-patch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Annotation } from "../../core/contract.ts";
import { APPLY_RULE } from "../../core/applyRule.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { testKubeConfig, testKubeconfigPath } from "../support/testCluster.ts";
import { useNamespace } from "../support/testNamespace.ts";
import { addSpotNodes, cordon, instanceIdOf, terminateNode } from "../../harness/cluster/nodes.ts";
import { clusterDir } from "../../harness/cluster/paths.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { clients, healthyOn, podsOf, waitForAnnotations, waitForAvailable } from "../support/deployments.ts";
import { optedInApp } from "../support/workloads.ts";
import { fargateProfiles } from "../../harness/fargate/profile-store.ts";
import { startStack, type Stack } from "../../harness/stack/stack.ts";
import { fluxApply, kubectl, ORCHESTRATOR_FIELD_MANAGER, PERSON, writeManifest } from "./appliers.ts";
import { argoNormalize, readmeIgnoreDifferences } from "./argocd.ts";

const { compare } = fastJsonPatch;
const kc = testKubeConfig();
const { apps } = clients(kc);
const ns = useNamespace("gitops");
const pool = `gitops-${randomBytes(3).toString("hex")}`;
const zone = "eu-west-1a";
const manifestDir = mkdtempSync(join(tmpdir(), "sfo-gitops-"));
const nodes: V1Node[] = [];
let stack: Stack;

type Applier = "kubectl" | "kubectl --server-side" | "flux";
interface App {
  name: string;
  applier: Applier;
  /** The manifest sets `compute: spot`, the case the webhook guards against. */
  computeInGit: boolean;
  manifest: V1Deployment;
  file: string;
}
const all: App[] = [];
const app = (name: string) => all.find((a) => a.name === name)!;

/** A manifest as it sits in git: opted in, pinned to the pool, with every placement field set. */
function gitManifest(name: string, computeInGit: boolean): V1Deployment {
  const d = optedInApp(name, 1, { "eks.amazonaws.com/nodegroup": pool });
  d.metadata!.namespace = ns.name;
  if (computeInGit) d.metadata!.annotations![Annotation.compute] = "spot";
  const spec = d.spec!.template.spec!;
  const mine = { matchLabels: { app: name } };
  spec.tolerations = [{ key: "spot", operator: "Exists", effect: "NoSchedule" }];
  spec.affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: "topology.kubernetes.io/zone", operator: "In", values: [zone] }] },
        ],
      },
    },
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 1, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: mine } },
      ],
    },
  };
  spec.topologySpreadConstraints = [
    {
      maxSkew: 1,
      topologyKey: "topology.kubernetes.io/zone",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: mine,
    },
  ];
  return d;
}

interface Applied {
  /** What the tool reported: kubectl's stdout, or flux-apply's change set as `<subject> <action>`. */
  output: string;
  /** The admission warnings the tool received. */
  warnings: string[];
}

/** Applies the app's manifest with its own tool, as its GitOps pipeline does at every sync. */
async function apply(a: App, flags: string[] = []): Promise<Applied> {
  if (a.applier === "flux") {
    const result = await fluxApply([a.file]);
    return {
      output: result.changes.map((c) => `${c.subject} ${c.action}`).join("\n"),
      // Its dry run and its apply both get the warning; kustomize-controller logs it once.
      warnings: [...new Set(result.warnings)],
    };
  }
  const serverSide = a.applier === "kubectl --server-side" ? ["--server-side", "--field-manager=gitops"] : [];
  const result = await kubectl(["apply", ...serverSide, ...flags, "-f", a.file]);
  if (result.code !== 0) throw new Error(`kubectl apply failed (${result.code}): ${result.stderr}`);
  return { output: result.stdout.trim(), warnings: kubectlWarnings(result.stderr) };
}

function kubectlWarnings(stderr: string): string[] {
  return stderr
    .split("\n")
    .filter((line) => line.startsWith("Warning: "))
    .map((line) => line.slice("Warning: ".length));
}

interface Snapshot {
  resourceVersion: string;
  generation: number;
  annotations: Record<string, string>;
  template: V1PodTemplateSpec;
  replicaSets: string[];
  pods: string[];
}

/** The Deployment once its controller has seen its latest generation, with its ReplicaSets and pods. */
async function snapshot(name: string): Promise<Snapshot> {
  const d = await waitFor(`${name}: the Deployment controller has seen the latest generation`, async () => {
    const read = await apps.readNamespacedDeployment({ namespace: ns.name, name });
    return read.status?.observedGeneration === read.metadata?.generation ? read : undefined;
  });
  const replicaSets = await apps.listNamespacedReplicaSet({
    namespace: ns.name,
    labelSelector: `app=${name}`,
  });
  return {
    resourceVersion: d.metadata!.resourceVersion!,
    generation: d.metadata!.generation!,
    annotations: d.metadata!.annotations ?? {},
    template: d.spec!.template,
    replicaSets: replicaSets.items.map((rs) => rs.metadata!.name!).sort(),
    pods: (await podsOf(kc, ns.name, name)).map((p) => p.metadata!.uid!).sort(),
  };
}

/** Nothing changed that matters: same template and generation, same ReplicaSets, same pods, same compute. */
function expectNoRollout(before: Snapshot, after: Snapshot): void {
  expect(after.template).toEqual(before.template);
  expect(after.generation).toBe(before.generation);
  expect(after.replicaSets).toEqual(before.replicaSets);
  expect(after.pods).toEqual(before.pods);
  for (const key of [Annotation.compute, Annotation.reason, Annotation.changedAt, Annotation.spotPlacement]) {
    expect(after.annotations[key]).toBe(before.annotations[key]);
  }
}

function expectOnFargate(s: Snapshot): void {
  expect(s.annotations[Annotation.compute]).toBe("fargate");
  expect(s.annotations[Annotation.reason]).toBe("spot-interruption");
  expect(s.template.metadata?.labels?.["compute-type"]).toBe("fargate");
  const spec = s.template.spec!;
  expect([
    spec.nodeSelector,
    spec.tolerations,
    spec.topologySpreadConstraints,
    spec.affinity?.nodeAffinity,
  ]).toEqual([undefined, undefined, undefined, undefined]);
}

/** The template as it was applied from git, the placement restored (the orchestrator's label aside). */
function expectGitPlacement(s: Snapshot, a: App): void {
  const git = a.manifest.spec!.template.spec!;
  const spec = s.template.spec!;
  expect(spec.nodeSelector).toEqual(git.nodeSelector);
  expect(spec.tolerations).toEqual(git.tolerations);
  expect(spec.affinity).toEqual(git.affinity);
  expect(spec.topologySpreadConstraints).toEqual(git.topologySpreadConstraints);
  expect(s.template.metadata?.labels).toEqual(a.manifest.spec!.template.metadata!.labels);
}

const stays = (applier: string) =>
  `${Annotation.compute} stays "fargate" (rule ${APPLY_RULE}): the orchestrator moved this Deployment to ` +
  `Fargate (reason spot-interruption) and a ${applier} does not move it back; recovery returns it to spot, or ` +
  `move it yourself with kubectl annotate --overwrite ${Annotation.compute}=spot`;
const declared = (applier: string) =>
  `${Annotation.compute} is set to "spot" by a ${applier} (rule ${APPLY_RULE}): leave it out of your manifests ` +
  `(absent means spot); an apply never moves a Deployment off Fargate while the orchestrator keeps it there`;
const applierName: Record<Applier, string> = {
  kubectl: 'client-side apply by "kubectl-client-side-apply"',
  "kubectl --server-side": 'server-side apply by "gitops"',
  flux: 'server-side apply by "kustomize-controller"',
};

beforeAll(async () => {
  await fargateProfiles(kc).add({
    name: `fp-${ns.name}`,
    selectors: [{ namespace: ns.name, labels: { "compute-type": "fargate" } }],
  });
  nodes.push(...(await addSpotNodes(kc, 1, { nodegroup: pool, zone })));
  stack = await startStack({
    kc,
    kubeconfigPath: testKubeconfigPath(),
    namespace: ns.name,
    logDir: join(clusterDir, "logs", ns.name),
    watcherEnv: { RECOVERY_INTERVAL: "500ms", RECOVERY_COOLDOWN: "2s", RECOVERY_TIMEOUT: "60s" },
  });
  const tools: [Applier, string][] = [
    ["kubectl", "csa"],
    ["kubectl --server-side", "ssa"],
    ["flux", "flux"],
  ];
  for (const [applier, tool] of tools) {
    for (const computeInGit of [false, true]) {
      const name = `${computeInGit ? "spot-in-git" : "git"}-${tool}`;
      const manifest = gitManifest(name, computeInGit);
      all.push({ name, applier, computeInGit, manifest, file: writeManifest(manifestDir, manifest) });
    }
  }
  const moved = gitManifest("moved-in-git", false);
  all.push({
    name: "moved-in-git",
    applier: "flux",
    computeInGit: false,
    manifest: moved,
    file: writeManifest(manifestDir, moved),
  });
});

/** moved-in-git's manifest after a commit that narrows its placement to one instance type. */
function movedInGit(): string {
  const changed = structuredClone(app("moved-in-git").manifest);
  changed.spec!.template.spec!.nodeSelector!["node.kubernetes.io/instance-type"] = "m5.large";
  return writeManifest(mkdtempSync(join(manifestDir, "next-")), changed);
}

afterAll(async () => {
  await stack?.stop();
  await fargateProfiles(kc).remove(`fp-${ns.name}`);
  await Promise.all(nodes.map((n) => terminateNode(kc, n.metadata?.name ?? "")));
});

describe("GitOps appliers during a Fargate stint and after recovery", () => {
  it("each applier creates its Deployments; one that sets compute: spot is warned at admission", async () => {
    const warnings = new Map<string, string[]>();
    for (const a of all) warnings.set(a.name, (await apply(a)).warnings);
    for (const a of all) await waitForAvailable(kc, ns.name, a.name, 1);
    for (const a of all) {
      expect(warnings.get(a.name)).toEqual(a.computeInGit ? [declared(applierName[a.applier])] : []);
    }
  });

  it("a spot interruption moves them all to Fargate", async () => {
    const node = nodes[0]!;
    await cordon(kc, node.metadata!.name!); // as a termination handler does: recovery cannot pick it either
    await stack.send(
      buildEventBridgeEvent({
        kind: "spot-interruption",
        instanceId: instanceIdOf(node),
        region: "eu-west-1",
      }),
    );
    for (const a of all) {
      await waitForAnnotations(kc, ns.name, a.name, "healthy on Fargate", healthyOn("fargate"));
      expectOnFargate(await snapshot(a.name));
    }
    await terminateNode(kc, node.metadata!.name!); // the instance is reclaimed
  });

  it.each<[Applier, string, string[]]>([
    ["kubectl", "deployment.apps/git-csa configured", []],
    ["kubectl --server-side", "deployment.apps/git-ssa serverside-applied", []],
    ["flux", "Deployment/<ns>/git-flux unchanged", []],
  ])(
    "re-applying the manifest with %s changes nothing: no rollout, still on Fargate",
    async (applier, output) => {
      const a = all.find((x) => x.applier === applier && !x.computeInGit)!;
      const before = await snapshot(a.name);
      const applied = await apply(a);
      expect(applied).toEqual({ output: output.replace("<ns>", ns.name), warnings: [] });
      const after = await snapshot(a.name);
      expectNoRollout(before, after);
      expectOnFargate(after);
      // Flux found no drift in its server-side dry run, so it did not even write.
      if (applier === "flux") expect(after.resourceVersion).toBe(before.resourceVersion);
    },
  );

  it("kubectl --server-side with another field manager: conflicts without --force-conflicts, no change with it", async () => {
    for (const a of [app("git-ssa"), app("git-flux")]) {
      const owner = a.applier === "flux" ? "kustomize-controller" : "gitops";
      const before = await snapshot(a.name);
      const refused = await kubectl(["apply", "--server-side", "--field-manager=other", "-f", a.file]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`conflicts with "${owner}"`);
      expect(refused.stderr).toContain("- .spec.template.spec.nodeSelector\n");
      expect((await snapshot(a.name)).resourceVersion).toBe(before.resourceVersion);

      const forced = await kubectl([
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=other",
        "-f",
        a.file,
      ]);
      expect(forced).toMatchObject({ code: 0, stdout: `deployment.apps/${a.name} serverside-applied\n` });
      const after = await snapshot(a.name);
      expectNoRollout(before, after);
      expectOnFargate(after);
    }
  });

  it("compute: spot in git: every applier leaves it on Fargate, and is told why", async () => {
    for (const a of all.filter((x) => x.computeInGit)) {
      const before = await snapshot(a.name);
      if (a.applier === "kubectl --server-side") {
        // The orchestrator's move made it the owner of compute: a plain server-side apply conflicts.
        const refused = await kubectl(["apply", "--server-side", "--field-manager=gitops", "-f", a.file]);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain(
          `conflict with "${ORCHESTRATOR_FIELD_MANAGER}" using apps/v1: .metadata.annotations.${Annotation.compute}`,
        );
      }
      const applied = await apply(a, a.applier === "kubectl --server-side" ? ["--force-conflicts"] : []);
      expect(applied.warnings).toEqual([stays(applierName[a.applier])]);
      if (a.applier === "flux") expect(applied.output).toBe(`Deployment/${ns.name}/${a.name} unchanged`);
      const after = await snapshot(a.name);
      expectNoRollout(before, after);
      expectOnFargate(after);
    }
  });

  it("server-side dry runs of the manifests report no change (Flux drift detection, kubectl diff, Argo CD server-side diff)", async () => {
    for (const a of all) {
      const argo = await kubectl([
        "diff",
        "--server-side",
        "--force-conflicts",
        "--field-manager=argocd-controller",
        "-f",
        a.file,
      ]);
      expect(argo).toMatchObject({ code: 0, stdout: "" });
      expect(await kubectl(["diff", "-f", a.file])).toMatchObject({ code: 0, stdout: "" });
      if (a.applier === "flux") {
        const flux = await fluxApply([a.file], { diff: true });
        expect(flux.changes).toEqual([{ subject: `Deployment/${ns.name}/${a.name}`, action: "unchanged" }]);
      }
    }
  });

  it("Argo CD's client-side diff finds git in the live object with the README's ignoreDifferences, not without", async () => {
    const expressions = readmeIgnoreDifferences();
    // What applying git would add or change; removals are the apiserver's defaults and status.
    const changes = (live: object, desired: object) =>
      compare(live, desired).filter((op) => op.op !== "remove");
    for (const a of all) {
      const live = JSON.parse(
        JSON.stringify(await apps.readNamespacedDeployment({ namespace: ns.name, name: a.name })),
      );
      expect(changes(live, a.manifest)).not.toEqual([]);
      const [desired, normalized] = await argoNormalize([a.manifest, live], expressions);
      expect(changes(normalized!, desired!)).toEqual([]);
    }
  });

  it("a placement change pushed to git during a stint waits on Fargate", async () => {
    const before = await snapshot("moved-in-git");
    const applied = await fluxApply([movedInGit()]);
    expect(applied.changes).toEqual([{ subject: `Deployment/${ns.name}/moved-in-git`, action: "unchanged" }]);
    const after = await snapshot("moved-in-git");
    expectNoRollout(before, after);
    expectOnFargate(after);
  });

  it("a person's kubectl annotate still moves it back to spot, recorded as manual", async () => {
    const a = app("spot-in-git-csa");
    const result = await kubectl([
      "annotate",
      "--overwrite",
      "-n",
      ns.name,
      `deployment/${a.name}`,
      `${Annotation.compute}=spot`,
    ]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const after = await snapshot(a.name);
    expect(after.annotations).toMatchObject({
      [Annotation.compute]: "spot",
      [Annotation.reason]: "manual",
      [Annotation.changedBy]: PERSON,
    });
    expectGitPlacement(after, a);
  });

  it("recovery moves the others back to spot with git's placement; re-applying then changes nothing", async () => {
    nodes.push(...(await addSpotNodes(kc, 1, { nodegroup: pool, zone })));
    for (const a of all) {
      const recovered = (x: Record<string, string>) =>
        healthyOn("spot")(x) && x[Annotation.reason] === "recovery";
      if (a.name !== "spot-in-git-csa")
        await waitForAnnotations(kc, ns.name, a.name, "recovered to spot", recovered);
      await waitForAvailable(kc, ns.name, a.name, 1);
      expectGitPlacement(await snapshot(a.name), a);
    }
    const reported: Record<Applier, string> = {
      kubectl: "deployment.apps/<name> unchanged",
      "kubectl --server-side": "deployment.apps/<name> serverside-applied",
      flux: `Deployment/${ns.name}/<name> unchanged`,
    };
    for (const a of all) {
      const before = await snapshot(a.name);
      const applied = await apply(a);
      // kubectl sends nothing when git and the live object agree, so only the server-side appliers hear
      // about compute: spot in git again.
      const warned = a.computeInGit && a.applier !== "kubectl";
      expect(applied).toEqual({
        output: reported[a.applier].replace("<name>", a.name),
        warnings: warned ? [declared(applierName[a.applier])] : [],
      });
      const after = await snapshot(a.name);
      if (applied.output.endsWith(" unchanged")) expect(after.resourceVersion).toBe(before.resourceVersion);
      expectNoRollout(before, after);
      expectGitPlacement(after, a);
    }
  });

  it("after recovery, the first sync applies the placement change pushed during the stint", async () => {
    const before = await snapshot("moved-in-git");
    const applied = await fluxApply([movedInGit()]);
    expect(applied.changes).toEqual([
      { subject: `Deployment/${ns.name}/moved-in-git`, action: "configured" },
    ]);
    const after = await snapshot("moved-in-git");
    expect(after.template.spec!.nodeSelector).toEqual({
      "eks.amazonaws.com/nodegroup": pool,
      "node.kubernetes.io/instance-type": "m5.large",
    });
    expect(after.generation).toBe(before.generation + 1);
    expect(after.replicaSets).toHaveLength(before.replicaSets.length + 1);
  });
});
