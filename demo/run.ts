// One demo run: the orchestrator end to end on the local control plane. A sample app runs on spot, a drill
// interrupts one of its nodes, and the demo narrates what really happens: the move to Fargate, the node's
// end, the cooldown and the recovery to spot with the original placement. Ends with timings and a report.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig, V1Node } from "@kubernetes/client-node";
import { loadKubeConfig } from "../harness/cluster/kubeconfig.ts";
import { errorMessage } from "../harness/cluster/wait.ts";
import { startFargateEmulator, type FargateEmulator } from "../harness/fargate/emulator.ts";
import type { StartupTime } from "../harness/fargate/startup.ts";
import { startStack, type Stack } from "../harness/stack/stack.ts";
import { cleanUpCluster } from "./cleanup.ts";
import { prepareCluster, type DemoCluster } from "./cluster.ts";
import { drillEnvironment } from "./drill.ts";
import { runInterruption, type InterruptionOutcome } from "./interruption.ts";
import { Narrator, seconds } from "./narrator.ts";
import type { DemoOptions } from "./options.ts";
import { writeReport } from "./report.ts";
import { appName, placementOf, replicas } from "./sampleApp.ts";
import { ClusterSampler, type Snapshot } from "./sampler.ts";
import {
  addFargateProfile,
  addOnDemandNode,
  addSpotNode,
  createDemoNamespace,
  deploySampleApp,
  describeNode,
  newPool,
  nodeName,
  podsPerNode,
  waitForAppOnSpot,
} from "./setup.ts";
import { demoDir, StateFile } from "./state.ts";
import { formatTimings, summarize } from "./summary.ts";
import { tryItLines } from "./tryIt.ts";
import { LogFollower } from "./watcherLog.ts";

/**
 * Short intervals so a drill goes to Fargate and back within a few minutes: the cooldown ends a little after
 * the slowest Fargate pod can be Ready, so the app goes back to spot once the move is over.
 */
function recoveryTimings({ meanMs, jitterMs }: StartupTime): { intervalMs: number; cooldownMs: number } {
  return { intervalMs: 5_000, cooldownMs: Math.max(20_000, meanMs + jitterMs + 15_000) };
}

function demoWatcherSettings(recovery: { intervalMs: number; cooldownMs: number }): Record<string, string> {
  return {
    RECOVERY_INTERVAL: `${recovery.intervalMs}ms`,
    RECOVERY_COOLDOWN: `${recovery.cooldownMs}ms`,
    RECOVERY_TIMEOUT: "60s",
    RECOVERY_BACKOFF_BASE: "30s",
    RECOVERY_MAX_BACKOFF: "2m",
    CHECK_INTERVAL: "500ms",
    VERIFICATION_DELAY: "500ms",
    DRIFT_CHECK_INTERVAL: "30s",
  };
}
const zones = { first: "eu-west-1a", second: "eu-west-1b", replacement: "eu-west-1c" };

/** Everything the run started or made, for the cleanup. */
interface Running {
  kc?: KubeConfig;
  state?: StateFile;
  emulator?: FargateEmulator;
  stack?: Stack;
  sampler?: ClusterSampler;
  watcherLog?: LogFollower;
}

/** The demo's cluster and namespace, once made. */
interface DemoSite {
  cluster: DemoCluster;
  kc: KubeConfig;
  namespace: string;
  logDir: string;
  state: StateFile;
}

/** The site with its nodes and the orchestrator running on it. */
interface DemoStage extends DemoSite {
  pool: string;
  spotNodes: V1Node[];
  stack: Stack;
  /** Rejects when the webhook or the watcher exits before the demo stops them. */
  died: Promise<never>;
  watcherLog: LogFollower;
}

/** The sample app up on spot, watched by the sampler. */
interface AppOnSpot {
  sampler: ClusterSampler;
  onSpot: Snapshot;
  perNode: Map<string, number>;
}

interface DrillResult {
  outcome: InterruptionOutcome;
  target: V1Node;
  drillEnv: Record<string, string>;
  /** Index of the drill's first step in the narrator's steps. */
  drillStep: number;
}

export async function runDemo(options: DemoOptions): Promise<number> {
  const run = new DemoRun(options);
  const onSignal = (signal: NodeJS.Signals) => run.interrupt(signal);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await run.play();
  } catch (err) {
    return await run.fail(err);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** One run of the demo, step by step; `phase` names the step under way, for a failure's message. */
class DemoRun {
  readonly options: DemoOptions;
  readonly narrator = new Narrator();
  readonly recovery: { intervalMs: number; cooldownMs: number };
  readonly running: Running = {};
  phase = "starting";
  interrupted = false;
  private cleaning: Promise<void> | undefined;

  constructor(options: DemoOptions) {
    this.options = options;
    this.recovery = recoveryTimings(options.fargateStartup);
  }

  /** Stops what the run started and removes what it made, once however often it is asked. */
  cleanUp(): Promise<void> {
    return (this.cleaning ??= cleanUpRun(this.running, this.narrator));
  }

  get stopping(): boolean {
    return this.cleaning !== undefined;
  }

  /** A first signal cleans up and exits; a second exits at once. */
  interrupt(signal: NodeJS.Signals): void {
    const { narrator } = this;
    if (this.interrupted) {
      narrator.failure(
        `${signal} again: leaving without finishing the cleanup; 'npm run demo:down' finishes it`,
      );
      process.exit(130);
    }
    this.interrupted = true;
    narrator.plain();
    narrator.step(`${signal}: stopping the demo`);
    void this.cleanUp().finally(() => process.exit(this.options.keep ? 0 : 130));
  }

  async play(): Promise<number> {
    this.narrator.heading("spot-fargate-orchestrator demo");
    this.narrator.step(fargateStartupLine(this.options.fargateStartup));
    const site = await this.prepareSite();
    const pool = await this.addNodes(site);
    await this.setUpFargate(site);
    const stage = await this.startOrchestrator(site, pool);
    const app = await this.deployApp(stage);
    const drill = await this.drill(stage, app);
    const ok = await this.report(stage, app, drill);
    if (this.options.keep) await this.keepRunning(stage, app, drill);
    this.phase = "cleaning up";
    await this.cleanUp();
    this.narrator.step(`done in ${seconds(this.narrator.elapsed())}`);
    return ok ? 0 : 1;
  }

  async fail(err: unknown): Promise<number> {
    if (this.interrupted) return 130;
    this.narrator.failure(`failed while ${this.phase}: ${errorMessage(err)}`);
    const { state } = this.running;
    if (state) this.narrator.detail(`logs: ${state.state.logDir} (watcher.log, webhook.log)`);
    await this.cleanUp();
    return 1;
  }

  /** The cluster (built or reused, or the one given), and a namespace of the demo's own in it. */
  async prepareSite(): Promise<DemoSite> {
    this.phase = "preparing the cluster";
    const cluster = await prepareCluster(this.options.kubeconfig, this.narrator);
    const kc = (this.running.kc = loadKubeConfig(cluster.kubeconfigPath));

    this.phase = "creating the demo's namespace";
    const namespace = await createDemoNamespace(kc);
    const logDir = join(demoDir, "logs", namespace);
    const state = (this.running.state = new StateFile({
      pid: process.pid,
      kubeconfigPath: cluster.kubeconfigPath,
      namespace,
      logDir,
    }));
    this.narrator.step(`namespace ${namespace} created (run recorded in ${state.path})`);
    return { cluster, kc, namespace, logDir, state };
  }

  /** A spot node group of two nodes in two zones, and an on-demand node; returns the pool's name. */
  async addNodes({ kc, state }: DemoSite): Promise<{ pool: string; spotNodes: V1Node[] }> {
    this.phase = "adding the node group";
    const pool = newPool();
    const spotNodes = await Promise.all([
      addSpotNode(kc, pool, zones.first),
      addSpotNode(kc, pool, zones.second),
    ]);
    const onDemand = await addOnDemandNode(kc, pool, zones.first);
    for (const node of [...spotNodes, onDemand]) state.addNode(nodeName(node));
    this.narrator.step(`spot node group ${pool}: ${spotNodes.map(describeNode).join(", ")}`);
    this.narrator.step(`on-demand node ${describeNode(onDemand)}`);
    return { pool, spotNodes };
  }

  /** The Fargate emulator and a profile for the namespace's pods labelled for Fargate. */
  async setUpFargate({ kc, namespace, state }: DemoSite): Promise<void> {
    this.phase = "setting up Fargate";
    this.running.emulator = await startFargateEmulator(kc, { zones: Object.values(zones) });
    const profile = await addFargateProfile(kc, namespace, this.options.fargateStartup);
    state.update((s) => (s.fargateProfile = profile));
    this.narrator.step(
      `Fargate profile ${profile}: pods in ${namespace} labelled compute-type=fargate run on Fargate`,
    );
  }

  /** The SQS emulator, the webhook and the watcher; returns once the watcher leads. */
  async startOrchestrator(site: DemoSite, nodes: { pool: string; spotNodes: V1Node[] }): Promise<DemoStage> {
    const { narrator } = this;
    const { kc, cluster, namespace, logDir, state } = site;
    this.phase = "starting the SQS emulator, the webhook and the watcher";
    const stack = (this.running.stack = await startStack({
      kc,
      kubeconfigPath: cluster.kubeconfigPath,
      namespace,
      logDir,
      watcherEnv: demoWatcherSettings(this.recovery),
    }));
    const died = exitOfEither(stack, () => this.stopping);
    state.update((s) => {
      s.webhookConfiguration = `spot-orchestrator-${namespace}`;
      s.processes = [stack.webhook.child.pid, stack.watcher?.child.pid].filter((p) => p !== undefined);
    });
    narrator.step(`SQS emulator at ${stack.sqs.endpoint}, queue ${stack.queueUrl}`);
    narrator.step("webhook running (self-signed TLS), registered with the apiserver by URL");
    const watcherLog = (this.running.watcherLog = new LogFollower(join(logDir, "watcher.log")));
    watcherLog.start();
    const leading = await watcherLog.find('"leading"', (e) => e.msg.startsWith("leading:"), 60_000);
    narrator.step(
      `watcher leading: recovery every ${seconds(this.recovery.intervalMs)}, ` +
        `cooldown ${seconds(this.recovery.cooldownMs)}`,
      leading.at,
    );
    narrator.detail(`logs: ${logDir}`);
    return { ...site, ...nodes, stack, died, watcherLog };
  }

  /** The sample app, opted in, Ready on spot; the sampler watches it from here on. */
  async deployApp(stage: DemoStage): Promise<AppOnSpot> {
    const { kc, namespace, pool, state } = stage;
    this.phase = "deploying the sample app";
    await deploySampleApp(kc, namespace, pool);
    const sampler = (this.running.sampler = new ClusterSampler({
      kc,
      namespace,
      app: appName,
      startedAt: this.narrator.startedAt,
      onNode: (name, compute) => {
        if (compute === "fargate") state.addNode(name);
      },
    }));
    sampler.start();
    const onSpot = await Promise.race([waitForAppOnSpot(sampler, 90_000), stage.died]);
    const perNode = podsPerNode(onSpot);
    this.narrator.success(
      `${appName} (opted in, Service ${appName}): ${replicas}/${replicas} Ready on spot: ` +
        [...perNode].map(([node, count]) => `${node} (${count})`).join(", "),
      onSpot.at,
    );
    return { sampler, onSpot, perNode };
  }

  /** Interrupts the busiest spot node and follows the move to Fargate and back. */
  async drill(stage: DemoStage, app: AppOnSpot): Promise<DrillResult> {
    const { options, narrator, recovery } = this;
    const { kc, cluster, namespace, pool, state } = stage;
    this.phase = "the interruption drill";
    const target = busiest(stage.spotNodes, app.perNode);
    const drillEnv = drillEnvironment(stage.stack.watcherEnvironment);
    narrator.heading(`Drill: a spot interruption warning for ${nodeName(target)}`);
    const drillStep = narrator.steps.length;
    const interruption = runInterruption({
      kc,
      kubeconfigPath: cluster.kubeconfigPath,
      namespace,
      pool,
      target,
      narrator,
      sampler: app.sampler,
      watcherLog: stage.watcherLog,
      drillEnv,
      cooldownMs: recovery.cooldownMs,
      recoveryIntervalMs: recovery.intervalMs,
      fargateWaitMs: options.fargateStartup.meanMs + options.fargateStartup.jitterMs + 30_000,
      originalPlacement: placementOf(app.onSpot.deployment.spec?.template.spec),
      replacementZone: zones.replacement,
      recordNode: (name) => state.addNode(name),
    });
    const outcome = await Promise.race([interruption, stage.died]);
    // a little tail after the last step, so the chart shows the steady state
    await sleep(1_000);
    await app.sampler.stop();
    return { outcome, target, drillEnv, drillStep };
  }

  /** The timings and the HTML report; true when the placement came back and the app kept serving. */
  async report(stage: DemoStage, app: AppOnSpot, drill: DrillResult): Promise<boolean> {
    const { options, narrator, recovery } = this;
    const { outcome } = drill;
    this.phase = "writing the report";
    const summary = summarize(outcome, {
      namespace: stage.namespace,
      interruptedNode: nodeName(drill.target),
    });
    await writeReport(options.reportPath, {
      startedAt: narrator.startedAt,
      // from the moment the app was up on spot: the baseline before the drill
      samples: app.sampler.samples.filter((sample) => sample.t >= narrator.elapsed(app.onSpot.at)),
      steps: narrator.steps,
      drillSteps: narrator.steps.slice(drill.drillStep),
      milestones: Object.fromEntries(
        Object.entries(outcome.milestones).map(([name, at]) => [name, narrator.elapsed(at)]),
      ),
      bands: [
        {
          from: narrator.elapsed(outcome.milestones.flipped),
          to: narrator.elapsed(outcome.milestones.cooldownUntil),
          label: `recovery cooldown (${seconds(recovery.cooldownMs)})`,
        },
      ],
      summary,
    });
    narrator.heading("Timings");
    narrator.plain(formatTimings(summary.timings));
    narrator.plain(`\nReport: ${options.reportPath}`);
    return summary.placementRestored && summary.minReadyEndpoints > 0;
  }

  /** With --keep: prints what to try, and waits for a signal (its handler cleans up and exits). */
  async keepRunning(stage: DemoStage, app: AppOnSpot, drill: DrillResult): Promise<never> {
    this.narrator.heading("Everything keeps running. Try:");
    const stillOnSpot = Object.keys(drill.outcome.finalNodes)[0] ?? "";
    for (const line of tryItLines({
      kubeconfigPath: stage.cluster.kubeconfigPath,
      kubectl: stage.cluster.kubectl,
      namespace: stage.namespace,
      spotNode: stillOnSpot,
      drillEnv: drill.drillEnv,
      logDir: stage.logDir,
    }))
      this.narrator.plain(`  ${line}`);
    await app.sampler.stop();
    return new Promise<never>(() => undefined);
  }
}

/** What the Fargate pods will be like: slow to start, as on EKS. */
function fargateStartupLine({ meanMs, jitterMs }: StartupTime): string {
  if (meanMs === 0)
    return "Fargate pods are Ready as soon as they are scheduled here (--fargate-start 0); on EKS that takes 30–90 s";
  return (
    `Fargate pods take ${seconds(meanMs)} (±${seconds(jitterMs)}) from scheduling to Ready, as on EKS (30–90 s): ` +
    "each gets a microVM of its own and pulls its image with no cache"
  );
}

/** The spot node running the most replicas (the most dramatic one to lose). */
function busiest(nodes: V1Node[], perNode: Map<string, number>): V1Node {
  return [...nodes].sort((a, b) => (perNode.get(nodeName(b)) ?? 0) - (perNode.get(nodeName(a)) ?? 0))[0]!;
}

/** Rejects when the webhook or the watcher exits before the demo stops them. */
function exitOfEither(stack: Stack, stopping: () => boolean): Promise<never> {
  const died = new Promise<never>((_, reject) => {
    for (const process of [stack.webhook, stack.watcher]) {
      void process?.exited.then((code) => {
        if (!stopping())
          reject(new Error(`the ${process.name} exited (code ${code}); see ${process.logFile}`));
      });
    }
  });
  died.catch(() => undefined); // only ever awaited in a race
  return died;
}

async function cleanUpRun(running: Running, narrator: Narrator): Promise<void> {
  const started = Date.now();
  await running.sampler?.stop();
  await running.watcherLog?.stop();
  await running.stack?.stop();
  await running.emulator?.close().catch(() => undefined);
  if (running.kc && running.state) {
    const problems = await cleanUpCluster(running.kc, running.state.state);
    for (const problem of problems) narrator.failure(`cleanup: ${problem}`);
    if (problems.length === 0) running.state.remove();
    narrator.step(
      `cleaned up: namespace ${running.state.state.namespace} deleted, ${running.state.state.nodes.length} nodes ` +
        `removed, processes stopped (${seconds(Date.now() - started)}); the cluster keeps running`,
    );
  }
}
