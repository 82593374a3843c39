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
import { prepareCluster } from "./cluster.ts";
import { drillEnvironment } from "./drill.ts";
import { runInterruption } from "./interruption.ts";
import { Narrator, seconds } from "./narrator.ts";
import type { DemoOptions } from "./options.ts";
import { writeReport } from "./report.ts";
import { appName, placementOf, replicas } from "./sampleApp.ts";
import { ClusterSampler } from "./sampler.ts";
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

export async function runDemo(options: DemoOptions): Promise<number> {
  const narrator = new Narrator();
  const recovery = recoveryTimings(options.fargateStartup);
  const watcherSettings = demoWatcherSettings(recovery);
  const running: Running = {};
  let phase = "starting";
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => (cleaning ??= cleanUpRun(running, narrator));

  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      narrator.failure(
        `${signal} again: leaving without finishing the cleanup; 'npm run demo:down' finishes it`,
      );
      process.exit(130);
    }
    interrupted = true;
    narrator.plain();
    narrator.step(`${signal}: stopping the demo`);
    void cleanUp().finally(() => process.exit(options.keep ? 0 : 130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    narrator.heading("spot-fargate-orchestrator demo");
    narrator.step(fargateStartupLine(options.fargateStartup));
    phase = "preparing the cluster";
    const cluster = await prepareCluster(options.kubeconfig, narrator);
    const kc = (running.kc = loadKubeConfig(cluster.kubeconfigPath));

    phase = "creating the demo's namespace";
    const namespace = await createDemoNamespace(kc);
    const logDir = join(demoDir, "logs", namespace);
    const state = (running.state = new StateFile({
      pid: process.pid,
      kubeconfigPath: cluster.kubeconfigPath,
      namespace,
      logDir,
    }));
    narrator.step(`namespace ${namespace} created (run recorded in ${state.path})`);

    phase = "adding the node group";
    const pool = newPool();
    const spotNodes = await Promise.all([
      addSpotNode(kc, pool, zones.first),
      addSpotNode(kc, pool, zones.second),
    ]);
    const onDemand = await addOnDemandNode(kc, pool, zones.first);
    for (const node of [...spotNodes, onDemand]) state.addNode(nodeName(node));
    narrator.step(`spot node group ${pool}: ${spotNodes.map(describeNode).join(", ")}`);
    narrator.step(`on-demand node ${describeNode(onDemand)}`);

    phase = "setting up Fargate";
    running.emulator = await startFargateEmulator(kc, { zones: Object.values(zones) });
    const profile = await addFargateProfile(kc, namespace, options.fargateStartup);
    state.update((s) => (s.fargateProfile = profile));
    narrator.step(
      `Fargate profile ${profile}: pods in ${namespace} labelled compute-type=fargate run on Fargate`,
    );

    phase = "starting the SQS emulator, the webhook and the watcher";
    running.stack = await startStack({
      kc,
      kubeconfigPath: cluster.kubeconfigPath,
      namespace,
      logDir,
      watcherEnv: watcherSettings,
    });
    const stack = running.stack;
    const died = exitOfEither(stack, () => cleaning !== undefined);
    state.update((s) => {
      s.webhookConfiguration = `spot-orchestrator-${namespace}`;
      s.processes = [stack.webhook.child.pid, stack.watcher?.child.pid].filter((p) => p !== undefined);
    });
    narrator.step(`SQS emulator at ${stack.sqs.endpoint}, queue ${stack.queueUrl}`);
    narrator.step("webhook running (self-signed TLS), registered with the apiserver by URL");
    const watcherLog = (running.watcherLog = new LogFollower(join(logDir, "watcher.log")));
    watcherLog.start();
    const leading = await watcherLog.find('"leading"', (e) => e.msg.startsWith("leading:"), 60_000);
    narrator.step(
      `watcher leading: recovery every ${seconds(recovery.intervalMs)}, ` +
        `cooldown ${seconds(recovery.cooldownMs)}`,
      leading.at,
    );
    narrator.detail(`logs: ${logDir}`);

    phase = "deploying the sample app";
    await deploySampleApp(kc, namespace, pool);
    const sampler = (running.sampler = new ClusterSampler({
      kc,
      namespace,
      app: appName,
      startedAt: narrator.startedAt,
      onNode: (name, compute) => {
        if (compute === "fargate") state.addNode(name);
      },
    }));
    sampler.start();
    const onSpot = await Promise.race([waitForAppOnSpot(sampler, 90_000), died]);
    const perNode = podsPerNode(onSpot);
    narrator.success(
      `${appName} (opted in, Service ${appName}): ${replicas}/${replicas} Ready on spot: ` +
        [...perNode].map(([node, count]) => `${node} (${count})`).join(", "),
      onSpot.at,
    );

    phase = "the interruption drill";
    const target = busiest(spotNodes, perNode);
    const drillEnv = drillEnvironment(stack.watcherEnvironment);
    narrator.heading(`Drill: a spot interruption warning for ${nodeName(target)}`);
    const drillStep = narrator.steps.length;
    const interruption = runInterruption({
      kc,
      kubeconfigPath: cluster.kubeconfigPath,
      namespace,
      pool,
      target,
      narrator,
      sampler,
      watcherLog,
      drillEnv,
      cooldownMs: recovery.cooldownMs,
      recoveryIntervalMs: recovery.intervalMs,
      fargateWaitMs: options.fargateStartup.meanMs + options.fargateStartup.jitterMs + 30_000,
      originalPlacement: placementOf(onSpot.deployment.spec?.template.spec),
      replacementZone: zones.replacement,
      recordNode: (name) => state.addNode(name),
    });
    const outcome = await Promise.race([interruption, died]);
    // a little tail after the last step, so the chart shows the steady state
    await sleep(1_000);
    await sampler.stop();

    phase = "writing the report";
    const summary = summarize(outcome, { namespace, interruptedNode: nodeName(target) });
    await writeReport(options.reportPath, {
      startedAt: narrator.startedAt,
      // from the moment the app was up on spot: the baseline before the drill
      samples: sampler.samples.filter((sample) => sample.t >= narrator.elapsed(onSpot.at)),
      steps: narrator.steps,
      drillSteps: narrator.steps.slice(drillStep),
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
    const ok = summary.placementRestored && summary.minReadyEndpoints > 0;

    if (options.keep) {
      narrator.heading("Everything keeps running. Try:");
      const stillOnSpot = Object.keys(outcome.finalNodes)[0] ?? "";
      for (const line of tryItLines({
        kubeconfigPath: cluster.kubeconfigPath,
        kubectl: cluster.kubectl,
        namespace,
        spotNode: stillOnSpot,
        drillEnv,
        logDir,
      }))
        narrator.plain(`  ${line}`);
      await sampler.stop();
      await new Promise<never>(() => undefined); // until a signal; its handler cleans up and exits
    }
    phase = "cleaning up";
    await cleanUp();
    narrator.step(`done in ${seconds(narrator.elapsed())}`);
    return ok ? 0 : 1;
  } catch (err) {
    if (interrupted) return 130;
    narrator.failure(`failed while ${phase}: ${errorMessage(err)}`);
    if (running.state) narrator.detail(`logs: ${running.state.state.logDir} (watcher.log, webhook.log)`);
    await cleanUp();
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
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
