// The admission webhook against its floor, a bare Node.js HTTPS server answering a fixed review, both in their
// own processes started as the container image starts them, loaded over TLS with keep-alive on loopback with
// the realistic 5 KB review that needs a patch: start-up, idle memory, p99 at a fixed rate, throughput, and
// memory after 100,000 reviews. Each figure is printed beside the floor's and its target, PASS or MISS.
// Usage: npm run bench:webhook [-- --runs 3 --seconds 10 --rate 1000 --connections 32 --starts 5
//        --reviews 100000 --node-options="<NODE_OPTIONS instead of the image's>"]
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { repoRoot } from "../harness/cluster/paths.ts";
import { generateSelfSigned, writeCertFiles } from "../webhook/selfSigned.ts";
import { imageRuntimeEnv } from "./imageRuntime.ts";
import { loadNow, machineLine } from "./machine.ts";
import { settledResident, type Resident } from "./proc.ts";
import { percentile } from "./stats.ts";
import { allPass, verdictTable, type Row } from "./verdicts.ts";
import { load, type LoadFigures } from "./webhook/load.ts";
import { startTarget, type Target, type TargetName } from "./webhook/targets.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    seconds: { type: "string", default: "10" },
    rate: { type: "string", default: "1000" },
    connections: { type: "string", default: "32" },
    starts: { type: "string", default: "5" },
    reviews: { type: "string", default: "100000" },
    "node-options": { type: "string" },
  },
});
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const CONNECTIONS = Number(values.connections);
const STARTS = Number(values.starts);
const REVIEWS = Number(values.reviews);

const benchDir = join(repoRoot, ".bench");
const began = performance.now();
const progress = (line: string) =>
  process.stderr.write(`[bench ${((performance.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

const body = await readFile(join(repoRoot, "test/fixtures/admission/deployment-create-fargate.json"));
const dir = await mkdtemp(join(tmpdir(), "bench-webhook-"));
const tls = await writeCertFiles(dir, generateSelfSigned());
const env = imageRuntimeEnv(values["node-options"]);
const startOptions = { tls, env, logDir: join(benchDir, "logs", "webhook") };
const names: TargetName[] = ["floor", "webhook"];
const loadBefore = loadNow();

/** The first start of each fills the compile cache; then `STARTS` timed starts of each, one after the other. */
async function startups(): Promise<Record<TargetName, number[]>> {
  for (const name of names) await (await startTarget(name, startOptions)).process.stop();
  const times: Record<TargetName, number[]> = { floor: [], webhook: [] };
  for (let i = 0; i < STARTS; i++) {
    for (const name of names) {
      const target = await startTarget(name, startOptions);
      times[name].push(target.startMs);
      await target.process.stop();
    }
  }
  return times;
}

/** Both servers' memory once it has settled (the median of a few readings). */
async function memory(targets: Record<TargetName, Target>): Promise<Record<TargetName, Resident>> {
  await sleep(5_000);
  return {
    floor: await settledResident(targets.floor.pid),
    webhook: await settledResident(targets.webhook.pid),
  };
}

type PhaseRuns = Record<TargetName, LoadFigures[]>;

/** `RUNS` runs of a phase, the floor then the webhook each time, so drift in the machine's load hits both. */
async function phase(targets: Record<TargetName, Target>, rate?: number): Promise<PhaseRuns> {
  const runs: PhaseRuns = { floor: [], webhook: [] };
  const connections = rate ? Math.min(CONNECTIONS, 10) : CONNECTIONS;
  for (let r = 0; r < RUNS; r++) {
    for (const name of names) {
      const figures = await load(targets[name], { body, seconds: SECONDS, connections, rate });
      runs[name].push(figures);
      progress(
        `${rate ? `${rate} req/s` : "max"} run ${r + 1}/${RUNS} ${name}: ${figures.rps.toFixed(0)} req/s, ` +
          `p99 ${figures.p99Ms.toFixed(2)} ms, ${figures.cpuPerRequestUs.toFixed(0)} µs CPU/request, ` +
          `load ${loadNow().toFixed(2)}`,
      );
    }
  }
  return runs;
}

const median = (numbers: number[]) => percentile(numbers, 0.5);

/** Everything measured: the starts, memory idle and after the load, and both load phases. */
interface Measured {
  starts: Record<TargetName, number[]>;
  idle: Record<TargetName, Resident>;
  loaded: Record<TargetName, Resident>;
  /** At `RATE` requests a second. */
  fixed: PhaseRuns;
  /** As fast as they answer. */
  max: PhaseRuns;
  /** Reviews the webhook answered in all. */
  served: number;
}

async function main() {
  progress(`starting each server ${STARTS + 1} times (the first fills the compile cache)`);
  const starts = await startups();
  const targets = {
    floor: await startTarget("floor", startOptions),
    webhook: await startTarget("webhook", startOptions),
  };
  try {
    const measured = await measure(targets, starts);
    const pass = await report(measured, verdictRows(measured));
    process.exitCode = pass ? 0 : 1;
  } finally {
    await Promise.all([targets.floor.process.stop(), targets.webhook.process.stop()]);
  }
}

/** Idle memory, a warm-up, both phases, the reviews still needed to reach `REVIEWS`, memory after. */
async function measure(
  targets: Record<TargetName, Target>,
  starts: Record<TargetName, number[]>,
): Promise<Measured> {
  progress("idle memory");
  const idle = await memory(targets);
  for (const name of names) await load(targets[name], { body, seconds: 3, connections: CONNECTIONS }); // warm-up
  const fixed = await phase(targets, RATE);
  const max = await phase(targets, undefined);
  const served = [...fixed.webhook, ...max.webhook].reduce((sum, f) => sum + f.requests, 0);
  if (served < REVIEWS) {
    progress(`${REVIEWS - served} more reviews to reach ${REVIEWS}`);
    await load(targets.webhook, { body, seconds: 0, connections: CONNECTIONS, amount: REVIEWS - served });
  }
  progress("memory after the load");
  const loaded = await memory(targets);
  return { starts, idle, loaded, fixed, max, served };
}

const failuresOf = ({ fixed, max }: Measured): number =>
  [...Object.values(fixed), ...Object.values(max)].flat().reduce((n, f) => n + f.failures, 0);

/** The median run's figure of a phase. */
const of = (runs: PhaseRuns, name: TargetName, pick: (f: LoadFigures) => number) =>
  median(runs[name].map(pick));

function verdictRows(measured: Measured): Row[] {
  return [...startRows(measured), ...memoryRows(measured), ...loadRows(measured)];
}

function startRows({ starts }: Measured): Row[] {
  return [
    {
      figure: "start → ready, p50",
      value: median(starts.webhook),
      unit: "ms",
      floor: median(starts.floor),
    },
    {
      figure: `start → ready, p99 (${STARTS} starts)`,
      value: percentile(starts.webhook, 0.99),
      unit: "ms",
      floor: percentile(starts.floor, 0.99),
    },
  ];
}

function memoryRows({ idle, loaded, served }: Measured): Row[] {
  const reviews = Math.max(served, REVIEWS);
  return [
    {
      figure: "idle RSS",
      value: idle.webhook.rssMiB,
      unit: "MiB",
      floor: idle.floor.rssMiB,
      target: { text: "≤ 70 MiB", limit: 70 },
    },
    {
      figure: `RSS after ${reviews.toLocaleString("en-US")} reviews`,
      value: loaded.webhook.rssMiB,
      unit: "MiB",
      floor: loaded.floor.rssMiB,
      target: { text: "≤ 90 MiB", limit: 90 },
    },
  ];
}

function loadRows({ fixed, max }: Measured): Row[] {
  const rps = { floor: of(max, "floor", (f) => f.rps), webhook: of(max, "webhook", (f) => f.rps) };
  const p99 = { floor: of(fixed, "floor", (f) => f.p99Ms), webhook: of(fixed, "webhook", (f) => f.p99Ms) };
  return [
    {
      figure: `/mutate throughput, ${CONNECTIONS} connections`,
      value: rps.webhook,
      unit: "req/s",
      floor: rps.floor,
      target: { text: "≥ 0.5 × floor", limit: 0.5 * rps.floor, atLeast: true },
    },
    {
      figure: `/mutate p99 at ${RATE} req/s`,
      value: p99.webhook,
      unit: "ms",
      floor: p99.floor,
      target: { text: "≤ floor + 3 ms", limit: p99.floor + 3 },
    },
    {
      figure: `/mutate p50 at ${RATE} req/s`,
      value: of(fixed, "webhook", (f) => f.p50Ms),
      unit: "ms",
      floor: of(fixed, "floor", (f) => f.p50Ms),
    },
    {
      figure: "server CPU per request (max throughput)",
      value: of(max, "webhook", (f) => f.cpuPerRequestUs),
      unit: "µs",
      floor: of(max, "floor", (f) => f.cpuPerRequestUs),
    },
  ];
}

/** Prints the figures beside their floors and targets and keeps them in `.bench/webhook.json`; true on PASS. */
async function report(measured: Measured, rows: Row[]): Promise<boolean> {
  const { starts, idle, loaded, fixed, max } = measured;
  const failures = failuresOf(measured);
  console.log(
    `\nadmission webhook (spot-orchestrator webhook) vs its floor (a bare Node.js HTTPS server answering a fixed` +
      ` review)\nboth started as the image starts them (NODE_OPTIONS "${env.NODE_OPTIONS}", warm compile cache);` +
      ` loopback, TLS keep-alive, a 5 KB review that needs a patch;\n${RUNS} runs of ${SECONDS} s per phase ` +
      `(figures are the median run), ${STARTS} starts; peak RSS ${loaded.webhook.peakMiB.toFixed(1)} MiB\n`,
  );
  console.log(verdictTable(rows));
  console.log(`\nfailed requests: ${failures}`);
  console.log(
    `${machineLine()}; 1-min load ${loadBefore.toFixed(2)} at the start; ${((performance.now() - began) / 1000).toFixed(0)} s in all`,
  );
  const pass = allPass(rows) && failures === 0;
  console.log(pass ? "PASS: every target met" : "MISS: some targets not met");
  await mkdir(benchDir, { recursive: true });
  const saved = { date: new Date().toISOString(), env, starts, idle, loaded, fixed, max, rows, failures };
  await writeFile(join(benchDir, "webhook.json"), `${JSON.stringify(saved, null, 2)}\n`);
  return pass;
}

try {
  await main();
} finally {
  await rm(dir, { recursive: true, force: true });
}
