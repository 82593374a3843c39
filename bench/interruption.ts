// Interruption benchmark against the local control plane with the real stack (SQS emulator, webhook and
// watcher processes, started as the image starts them): event sent → N opted-in Deployments flipped, for
// N = 1, 10, 100, next to the floor of the same N merge patches sent at once by a bare client (plus the SQS
// receive for one); then event sent → every replica Ready on Fargate (with EKS's start-up time) for
// N = 1, 10, 100, next to the Fargate emulator's own start-up for those pods plus one patch; then the
// watcher's memory and start-up (to leading with a warm index), in a small cluster and with 5,000 nodes and
// 50,000 pods. Each figure is printed beside its floor and target.
// Usage: npm run bench:interruption [-- --sizes 1,10,100 --runs 5,5,3 --ready-sizes 1,10,100
//        --ready-runs 1,1,1 --ready-replicas 1 --fargate-start 45s --fargate-jitter 10s --skip-ready
//        --nodes 5000 --pods 50000 --load-budget 240 --load-concurrency 50 --concurrency 20 --skip-memory
//        --node-options="<the watcher's NODE_OPTIONS instead of the image's>"]
// E2E_KUBECONFIG points it at another cluster (on this host: the webhook is registered by 127.0.0.1 URL).
import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CoreV1Api, VersionApi, type KubeConfig } from "@kubernetes/client-node";
import { benchCleanups, clusterKubeconfig, runBench } from "./benchProcess.ts";
import { loadKubeConfig } from "../harness/cluster/kubeconfig.ts";
import type { StartupTime } from "../harness/fargate/startup.ts";
import { parseDuration } from "../core/duration.ts";
import { createNamespace, deleteNamespace } from "../harness/cluster/namespace.ts";
import { repoRoot } from "../harness/cluster/paths.ts";
import type { OrchestratorProcess } from "../harness/stack/process.ts";
import { startStack, type Stack } from "../harness/stack/stack.ts";
import { imageRuntimeEnv } from "./imageRuntime.ts";
import { interruptionRun, type RunContext, type RunResult } from "./interruption/interruptionRun.ts";
import { benchNodeLabel } from "./interruption/manifests.ts";
import { memoryPhase, type MemoryResult } from "./interruption/memoryPhase.ts";
import {
  latencyRows,
  latencyTable,
  memoryLines,
  memoryRows,
  sizeResult,
  type SizeResult,
} from "./interruption/report.ts";
import { readyPhase, type ReadyPhaseResult } from "./interruption/readyPhase.ts";
import { readyRows, readyTable } from "./interruption/readyReport.ts";
import { sqsReceiveFloor } from "./interruption/sqsFloor.ts";
import { waitForLeadership } from "./interruption/watcherProbe.ts";
import { machineLine } from "./machine.ts";
import type { Summary } from "./stats.ts";
import { allPass, verdictTable } from "./verdicts.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1,10,100" },
    runs: { type: "string", default: "5,5,3" },
    "ready-sizes": { type: "string", default: "1,10,100" },
    "ready-runs": { type: "string", default: "1,1,1" },
    "ready-replicas": { type: "string", default: "1" },
    "fargate-start": { type: "string", default: "45s" },
    "fargate-jitter": { type: "string", default: "10s" },
    "skip-ready": { type: "boolean", default: false },
    nodes: { type: "string", default: "5000" },
    pods: { type: "string", default: "50000" },
    "load-budget": { type: "string", default: "240" },
    "load-concurrency": { type: "string", default: "50" },
    concurrency: { type: "string" },
    "skip-memory": { type: "boolean", default: false },
    "node-options": { type: "string" },
  },
});
const numbers = (list: string) => list.split(",").map(Number);
const SIZES = numbers(values.sizes);
const RUNS = numbers(values.runs);
const READY_SIZES = numbers(values["ready-sizes"]);
const READY_RUNS = numbers(values["ready-runs"]);
const READY_REPLICAS = Number(values["ready-replicas"]);
for (const [sizes, runs, flags] of [
  [SIZES, RUNS, "--sizes and --runs"],
  [READY_SIZES, READY_RUNS, "--ready-sizes and --ready-runs"],
] as const) {
  if (sizes.length !== runs.length || [...sizes, ...runs].some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`${flags} need the same number of positive integers`);
  }
}
if (!Number.isInteger(READY_REPLICAS) || READY_REPLICAS < 1)
  throw new Error("--ready-replicas: a positive integer");
const FARGATE_STARTUP: StartupTime = {
  meanMs: parseDuration(values["fargate-start"]),
  jitterMs: parseDuration(values["fargate-jitter"]),
};

const benchDir = join(repoRoot, ".bench");
const started = performance.now();
const log = (line: string) =>
  process.stderr.write(
    `[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`,
  );

// Follow-ups of paused Deployments never finish; polling them rarely keeps them out of the measurements.
// Recovery would move the Deployments back to spot behind the benchmark's back.
const watcherEnv: Record<string, string> = {
  ...imageRuntimeEnv(values["node-options"]),
  CHECK_INTERVAL: "30s",
  RECOVERY_ENABLED: "false",
  DRIFT_CHECK_INTERVAL: "10m",
  ...(values.concurrency ? { MIGRATION_CONCURRENCY: values.concurrency } : {}),
};

const cleanupSteps = benchCleanups(log);
const cleanups = cleanupSteps.steps;

async function latencyPhase(ctx: RunContext): Promise<SizeResult[]> {
  // warm-up, not counted: the first event pays for JIT, TLS sessions and the ReplicaSet owner cache path
  await interruptionRun(ctx, 10, "warm");
  const sizes: SizeResult[] = [];
  for (const [i, n] of SIZES.entries()) {
    const runs: RunResult[] = [];
    for (let r = 0; r < RUNS[i]!; r++) {
      const result = await interruptionRun(ctx, n, `n${n}-r${r}`);
      runs.push(result);
      log(
        `N=${n} run ${r + 1}/${RUNS[i]}: watcher ${result.watcherMs.toFixed(0)} ms ` +
          `(own histogram ${result.watcherHistogramMs.toFixed(0)} ms), floor ${result.floorMs.toFixed(0)} ms ` +
          `(sequential ${result.sequentialFloorMs.toFixed(0)} ms), load ${loadavg()[0]!.toFixed(2)}`,
      );
    }
    sizes.push(sizeResult(n, runs));
  }
  return sizes;
}

/** The machine the benchmark ran on, and its 1-min load averages along the way. */
interface Machine {
  summary: string;
  loadAverageBefore: number[];
  loadAverageAfterLatency: number[];
  loadAverageAfterReady: number[];
  loadAverageEnd: number[];
}

async function main(): Promise<void> {
  const kubeconfigPath = await clusterKubeconfig(log);
  const kc: KubeConfig = loadKubeConfig(kubeconfigPath);
  const serverVersion = (await kc.makeApiClient(VersionApi).getCode()).gitVersion;
  const loadBefore = loadavg();
  const { namespace, stack, watcher, ctx } = await startBench(kc, kubeconfigPath);

  const floorQueue = await stack.sqs.createQueue(`floor-${namespace}`, {});
  const sqs: Summary = await sqsReceiveFloor(stack.sqsClient, floorQueue);
  log(`SQS receive floor: p50 ${sqs.p50.toFixed(0)} ms`);
  const sizes = await latencyPhase(ctx);
  const loadAfterLatency = loadavg();
  console.log(`\n${latencyTable(sizes, sqs)}`);
  const ready = values["skip-ready"] ? undefined : await readyFigures(kc, stack, namespace);
  const loadAfterReady = loadavg();
  const memory = values["skip-memory"] ? undefined : await memoryFigures(kc, stack, watcher, namespace);

  const rows = [
    ...latencyRows(sizes, sqs),
    ...(ready ? readyRows(ready) : []),
    ...(memory ? memoryRows(memory) : []),
  ];
  console.log(`\n${verdictTable(rows)}`);
  const seconds = (performance.now() - started) / 1000;
  const machine: Machine = {
    summary: machineLine(),
    loadAverageBefore: loadBefore,
    loadAverageAfterLatency: loadAfterLatency,
    loadAverageAfterReady: loadAfterReady,
    loadAverageEnd: loadavg(),
  };
  printMachine(machine, serverVersion, seconds);
  const pass = allPass(rows);
  console.log(pass ? "PASS: every target met" : "MISS: some targets not met");
  process.exitCode = pass ? 0 : 1;
  await mkdir(benchDir, { recursive: true });
  await writeFile(
    join(benchDir, "interruption.json"),
    `${JSON.stringify({ date: new Date().toISOString(), serverVersion, watcherEnv, machine, seconds, sqs, sizes, ready, memory, rows }, null, 2)}\n`,
  );
  log(`wrote ${join(benchDir, "interruption.json")}`);
}

/** The benchmark's namespace and the stack in it, its watcher leading; both removed by the cleanup. */
async function startBench(
  kc: KubeConfig,
  kubeconfigPath: string,
): Promise<{ namespace: string; stack: Stack; watcher: OrchestratorProcess; ctx: RunContext }> {
  const namespace = await createNamespace(kc, "bench-interruption");
  cleanups.push(() => deleteNamespace(kc, namespace, { wait: true }));
  // nodes of runs cut short by a failure or an interrupt
  cleanups.push(() =>
    kc.makeApiClient(CoreV1Api).deleteCollectionNode({ labelSelector: `${benchNodeLabel}=true` }),
  );
  log(`namespace ${namespace}; starting the SQS emulator, webhook and watcher`);
  const stack: Stack = await startStack({
    kc,
    kubeconfigPath,
    namespace,
    logDir: join(benchDir, "logs", namespace),
    watcherEnv,
  });
  cleanups.push(() => stack.stop());
  const { watcher } = stack;
  if (!watcher) throw new Error("the stack started no watcher");
  await waitForLeadership(stack.watcherHealthPort);

  const ctx: RunContext = {
    kc,
    namespace,
    queue: { client: stack.sqsClient, url: stack.queueUrl },
    watcher: { healthPort: stack.watcherHealthPort, logFile: watcher.logFile },
  };
  return { namespace, stack, watcher, ctx };
}

/** Event sent → every replica Ready on Fargate, against the emulator's own start-up. */
async function readyFigures(kc: KubeConfig, stack: Stack, namespace: string): Promise<ReadyPhaseResult> {
  const ready = await readyPhase(kc, stack, {
    namespace,
    sizes: READY_SIZES,
    runs: READY_RUNS,
    replicas: READY_REPLICAS,
    startup: FARGATE_STARTUP,
    watcherEnv,
    logDir: join(benchDir, "logs", namespace),
    log,
    onCleanup: (step) => cleanups.push(step),
  });
  console.log(`\n${readyTable(ready)}`);
  return ready;
}

/** The watcher's memory and start-up, small and with thousands of nodes and pods. */
async function memoryFigures(
  kc: KubeConfig,
  stack: Stack,
  watcher: OrchestratorProcess,
  namespace: string,
): Promise<MemoryResult> {
  // the memory watcher must win the Lease and have a history of its own
  await watcher.stop();
  const memory = await memoryPhase(kc, namespace, stack, {
    nodes: Number(values.nodes),
    pods: Number(values.pods),
    concurrency: Number(values["load-concurrency"]),
    budgetMs: Number(values["load-budget"]) * 1000,
    watcherEnv,
    logDir: join(benchDir, "logs", namespace),
    log,
  });
  console.log(`\n${memoryLines(memory)}`);
  return memory;
}

function printMachine(machine: Machine, serverVersion: string, seconds: number): void {
  const first = (load: number[]) => load[0]!.toFixed(2);
  console.log(
    `\n${machine.summary}\n1-min load average ${first(machine.loadAverageBefore)} at start, ` +
      `${first(machine.loadAverageAfterLatency)} after the flip runs, ${first(machine.loadAverageAfterReady)} after the ` +
      `ready runs, ${first(machine.loadAverageEnd)} at the end; ` +
      `apiserver ${serverVersion}; watcher NODE_OPTIONS "${watcherEnv["NODE_OPTIONS"]}", warm compile cache; ` +
      `${seconds.toFixed(0)} s in all`,
  );
}

await runBench(main, cleanupSteps, log);
