// Load test of the admission webhook over real TLS with keep-alive, against a bare https server that
// answers a fixed review (the floor), both in their own processes, on loopback:
// a fixed 1,000 req/s phase (latency) and a max-throughput phase, then the ratios.
// Usage: npm run bench:webhook [-- --duration 10 --connections 32]
import { fork, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { toError } from "../core/errors.ts";
import { generateSelfSigned, writeCertFiles } from "../webhook/selfSigned.ts";
import { freePort } from "../test/stack/process.ts";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "32" },
    rate: { type: "string", default: "1000" },
  },
});
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const RATE = Number(values.rate);

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  /** autocannon's own p99 (whole ms, corrected for coordinated omission at a fixed rate). */
  p99Corrected: number;
  /** Server CPU (user + system) per request: steadier than wall-clock figures on a busy machine. */
  cpuPerRequestUs: number;
  failures: number;
}

const body = await readFile(
  new URL("../test/fixtures/admission/deployment-create-fargate.json", import.meta.url),
);
const dir = await mkdtemp(join(tmpdir(), "bench-webhook-"));
const files = await writeCertFiles(dir, generateSelfSigned());

async function start(mode: "webhook" | "floor"): Promise<Target> {
  const [port, healthPort] = [await freePort(), await freePort()];
  const child = fork(
    new URL("./webhookServer.ts", import.meta.url),
    [mode, files.certFile, files.keyFile, `${port}`, `${healthPort}`],
    { env: { ...process.env, LOG_LEVEL: "warn" } },
  );
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
  return { child, port };
}

interface Target {
  child: ChildProcess;
  port: number;
}

function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once("message", (usage: NodeJS.CpuUsage) => resolve(usage.user + usage.system));
    child.send("cpu");
  });
}

async function load({ child, port }: Target, options: { rate?: number; duration: number }): Promise<Figures> {
  const samples: number[] = [];
  const cpuBefore = await cpuOf(child);
  let instance: autocannon.Instance | undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: `https://127.0.0.1:${port}/mutate`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        connections: options.rate ? Math.min(CONNECTIONS, 10) : CONNECTIONS,
        duration: options.duration,
        ...(options.rate ? { overallRate: options.rate } : {}),
      },
      (err, done) => (err ? reject(toError(err)) : resolve(done)),
    );
    instance.on("response", (_client, _status, _bytes, responseTime) => samples.push(responseTime));
  });
  const cpu = (await cpuOf(child)) - cpuBefore;
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
  return {
    rps: result.requests.total / result.duration,
    p50: at(0.5),
    p99: at(0.99),
    p99Corrected: result.latency.p99,
    cpuPerRequestUs: cpu / result.requests.total,
    failures: result.errors + result.non2xx,
  };
}

async function stop({ child }: Target): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

// Both servers run throughout (an idle one costs nothing) and each phase loads one right after the
// other, so drift in the machine's load affects both alike.
const targets = { floor: await start("floor"), webhook: await start("webhook") };
const phase = async (options: { rate?: number; duration: number }) => ({
  floor: await load(targets.floor, options),
  webhook: await load(targets.webhook, options),
});
await phase({ duration: 3 }); // warm-up: JIT, TLS sessions
const fixedPhase = await phase({ rate: RATE, duration: DURATION });
const maxPhase = await phase({ duration: DURATION });
await Promise.all([stop(targets.floor), stop(targets.webhook)]);
await rm(dir, { recursive: true, force: true });
const floor = { fixed: fixedPhase.floor, max: maxPhase.floor };
const webhook = { fixed: fixedPhase.webhook, max: maxPhase.webhook };

const ms = (n: number) => `${n.toFixed(2)} ms`;
const row = (name: string, f: Figures) =>
  `${name.padEnd(22)} ${f.rps.toFixed(0).padStart(8)} req/s   p50 ${ms(f.p50).padStart(9)}   ` +
  `p99 ${ms(f.p99).padStart(9)}   (corrected p99 ${f.p99Corrected} ms)   ` +
  `server CPU ${f.cpuPerRequestUs.toFixed(0)} µs/req   failures ${f.failures}`;
console.log(`\nadmission webhook vs bare https floor; ${DURATION} s per phase, loopback, TLS keep-alive`);
console.log(`\nfixed rate ${RATE} req/s (10 connections)`);
console.log(row("  floor", floor.fixed));
console.log(row("  webhook /mutate", webhook.fixed));
console.log(`\nmax throughput (${CONNECTIONS} connections)`);
console.log(row("  floor", floor.max));
console.log(row("  webhook /mutate", webhook.max));

const p99Gap = webhook.fixed.p99 - floor.fixed.p99;
const throughputRatio = webhook.max.rps / floor.max.rps;
console.log(`\np99 at ${RATE} req/s: webhook − floor = ${ms(p99Gap)} (target ≤ 3 ms)`);
console.log(`throughput: webhook / floor = ${throughputRatio.toFixed(2)} (target ≥ 0.50)`);
const failures = [floor, webhook].reduce((sum, r) => sum + r.fixed.failures + r.max.failures, 0);
const pass = p99Gap <= 3 && throughputRatio >= 0.5 && failures === 0;
console.log(pass ? "PASS" : "FAIL");

await mkdir(".bench", { recursive: true });
await writeFile(".bench/webhook.json", JSON.stringify({ floor, webhook, p99Gap, throughputRatio }, null, 2));
process.exitCode = pass ? 0 : 1;
