// Availability-zone storm against the local control plane with the real stack (SQS emulator, webhook and
// watcher processes, as the image starts them): spot nodes over three zones, one zone's nodes reclaimed at
// once (`--burst`: every warning sent with SendMessageBatch, as an AZ event arrives) or one after another
// (`--spread 60s`). First the floor (the same flips sent by a bare client on the same schedule), then the
// storm through the watcher on paused Deployments (the flips alone), then again with the moves rolling onto
// an emulated Fargate as slow as EKS (start-up, launch rate), until every replica is Ready. Every figure is
// printed beside its floor, and what the storm did is checked: each opted-in Deployment on a reclaimed node
// moved exactly once, nothing else touched.
// Usage: npm run bench:storm [-- --nodes 300 --reclaimed 100 --deployments 500 --elsewhere 100
//        --bystanders 100 --burst | --spread 60s --fargate-start 45s --fargate-jitter 10s --skip-ready
//        --concurrency N --qps N --kube-burst N --events-in-flight N --parallel-receives N
//        --env KEY=VALUE (any other watcher setting, repeatable: --env DRAIN_GUARD=false)
//        --node-options="<the watcher's NODE_OPTIONS instead of the image's>"]
// Small, a few minutes on 2 cores: npm run bench:storm -- --nodes 30 --reclaimed 10 --deployments 50
// E2E_KUBECONFIG points it at another cluster (on this host: the webhook is registered by 127.0.0.1 URL).
import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { VersionApi, type KubeConfig } from "@kubernetes/client-node";
import { benchCleanups, clusterKubeconfig, runBench } from "./benchProcess.ts";
import { parseDuration } from "../core/duration.ts";
import { loadKubeConfig } from "../harness/cluster/kubeconfig.ts";
import { createNamespace, deleteNamespace } from "../harness/cluster/namespace.ts";
import { repoRoot } from "../harness/cluster/paths.ts";
import { eksLaunchRate } from "../harness/fargate/launch-rate.ts";
import type { StartupTime } from "../harness/fargate/startup.ts";
import { startStack, type Stack } from "../harness/stack/stack.ts";
import { imageRuntimeEnv } from "./imageRuntime.ts";
import { machineLine } from "./machine.ts";
import { allPass, verdictTable } from "./verdicts.ts";
import { stormPhases, type StormSettings } from "./storm/phases.ts";
import { checkLines, stormRows, stormTable } from "./storm/report.ts";
import { describeMode, type StormMode } from "./storm/schedule.ts";
import { createWatcherIdentity, type WatcherIdentity } from "./storm/watcherIdentity.ts";
import { checkSizes, deleteStormNodes, RECLAIMED_ZONE, type StormSizes } from "./storm/zoneFleet.ts";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "300" },
    reclaimed: { type: "string", default: "100" },
    deployments: { type: "string", default: "500" },
    elsewhere: { type: "string", default: "100" },
    bystanders: { type: "string", default: "100" },
    burst: { type: "boolean", default: false },
    spread: { type: "string" },
    "fargate-start": { type: "string", default: "45s" },
    "fargate-jitter": { type: "string", default: "10s" },
    "skip-ready": { type: "boolean", default: false },
    concurrency: { type: "string" },
    qps: { type: "string" },
    "kube-burst": { type: "string" },
    "events-in-flight": { type: "string" },
    "parallel-receives": { type: "string" },
    "node-options": { type: "string" },
    env: { type: "string", multiple: true, default: [] },
  },
});

const SIZES: StormSizes = {
  nodes: Number(values.nodes),
  reclaimed: Number(values.reclaimed),
  deployments: Number(values.deployments),
  elsewhere: Number(values.elsewhere),
  bystanders: Number(values.bystanders),
};
checkSizes(SIZES);
if (values.burst && values.spread) throw new Error("--burst or --spread, not both");
const MODE: StormMode = values.spread
  ? { kind: "spread", overMs: parseDuration(values.spread) }
  : { kind: "burst" };
const FARGATE_STARTUP: StartupTime = {
  meanMs: parseDuration(values["fargate-start"]),
  jitterMs: parseDuration(values["fargate-jitter"]),
};

/** The settings that shape a storm, passed to the watcher only when given (its defaults otherwise). */
const tuning: Record<string, string | undefined> = {
  MIGRATION_CONCURRENCY: values.concurrency,
  KUBE_API_QPS: values.qps,
  KUBE_API_BURST: values["kube-burst"],
  SQS_MAX_EVENTS_IN_FLIGHT: values["events-in-flight"],
  SQS_PARALLEL_RECEIVES: values["parallel-receives"],
  ...Object.fromEntries(
    values.env.map((pair) => {
      const at = pair.indexOf("=");
      if (at < 1) throw new Error(`--env ${pair}: KEY=VALUE, one of the watcher's settings (README)`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  ),
};

// The product's defaults for following moves (the stack's are short, for tests); recovery off: it would move
// the Deployments back to spot behind the benchmark's back.
const watcherEnv: Record<string, string> = {
  ...imageRuntimeEnv(values["node-options"]),
  CHECK_INTERVAL: "5s",
  VERIFICATION_DELAY: "5s",
  RECOVERY_ENABLED: "false",
  ...Object.fromEntries(Object.entries(tuning).flatMap(([k, v]) => (v === undefined ? [] : [[k, v]]))),
};

const benchDir = join(repoRoot, ".bench");
const started = performance.now();
const log = (line: string) =>
  process.stderr.write(
    `[storm ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`,
  );

const cleanupSteps = benchCleanups(log);
const cleanups = cleanupSteps.steps;

/** The namespace, the watcher's identity and the stack (without a watcher: each run starts its own). */
async function startBench(
  kc: KubeConfig,
  kubeconfigPath: string,
): Promise<{ namespace: string; identity: WatcherIdentity; stack: Stack }> {
  const namespace = await createNamespace(kc, "bench-storm");
  cleanups.push(() => deleteNamespace(kc, namespace, { wait: true }));
  cleanups.push(() => deleteStormNodes(kc, namespace));
  const dir = join(benchDir, "storm");
  await mkdir(dir, { recursive: true });
  const identity = await createWatcherIdentity(kc, namespace, dir);
  cleanups.push(() => identity.remove());
  log(
    `namespace ${namespace}; the watcher runs as ${identity.username}; starting the SQS emulator and webhook`,
  );
  const stack = await startStack({
    kc,
    kubeconfigPath,
    namespace,
    logDir: join(benchDir, "logs", namespace),
    watcherEnv,
    watcher: false,
    watcherKubeconfigPath: identity.kubeconfigPath,
  });
  cleanups.push(() => stack.stop());
  return { namespace, identity, stack };
}

async function main(): Promise<void> {
  const kubeconfigPath = await clusterKubeconfig(log);
  const kc = loadKubeConfig(kubeconfigPath);
  const serverVersion = (await kc.makeApiClient(VersionApi).getCode()).gitVersion;
  const loadBefore = loadavg();
  const { namespace, identity, stack } = await startBench(kc, kubeconfigPath);
  const settings: StormSettings = {
    namespace,
    sizes: SIZES,
    mode: MODE,
    ready: values["skip-ready"] ? undefined : { startup: FARGATE_STARTUP, launchRate: eksLaunchRate },
    watcherEnv,
    flowSchema: identity.flowSchema,
    logDir: join(benchDir, "logs", namespace),
    log,
    onCleanup: (step) => cleanups.push(step),
  };
  const report = await stormPhases(kc, stack, settings);

  const header =
    `AZ storm (${describeMode(MODE)}): ${SIZES.reclaimed} of ${SIZES.nodes} spot nodes reclaimed in ${RECLAIMED_ZONE}; ` +
    `${SIZES.deployments} opted-in Deployments on them, ${SIZES.elsewhere} opted in elsewhere, ` +
    `${SIZES.bystanders} bystanders (not opted in); one replica each` +
    (settings.ready
      ? `; Fargate start-up ${values["fargate-start"]} ± ${values["fargate-jitter"]}, launch rate ` +
        `${eksLaunchRate.perSecond}/s (burst ${eksLaunchRate.burst})`
      : "");
  console.log(`\n${stormTable(report, header)}\n`);
  const checks = [
    ...checkLines("flip run", report.flips, SIZES.deployments),
    ...(report.ready ? checkLines("ready run", report.ready, SIZES.deployments) : []),
  ];
  console.log(checks.join("\n"));
  const rows = stormRows(report);
  console.log(`\n${verdictTable(rows)}`);
  const seconds = (performance.now() - started) / 1000;
  const loadEnd = loadavg();
  console.log(
    `\n${machineLine()}\n1-min load average ${loadBefore[0]!.toFixed(2)} at start, ${loadEnd[0]!.toFixed(2)} at the end; ` +
      `apiserver ${serverVersion}; watcher settings ${JSON.stringify(tuning)} (unset: the product's defaults); ` +
      `${seconds.toFixed(0)} s in all`,
  );
  const pass = allPass(rows);
  console.log(pass ? "PASS: every target met" : "MISS: some targets not met");
  process.exitCode = pass ? 0 : 1;
  await writeFile(
    join(benchDir, "storm.json"),
    `${JSON.stringify({ date: new Date().toISOString(), serverVersion, sizes: SIZES, mode: MODE, watcherEnv, loadBefore, loadEnd, seconds, report, rows }, null, 2)}\n`,
  );
  log(`wrote ${join(benchDir, "storm.json")}`);
}

await runBench(main, cleanupSteps, log);
