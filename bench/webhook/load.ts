// One load phase against one target with autocannon over TLS with keep-alive: at a fixed rate (latency) or
// as fast as it answers (throughput), with the server's CPU time per request read from /proc.
import autocannon from "autocannon";
import { toError } from "../../core/errors.ts";
import { cpuSecondsOf } from "../proc.ts";
import { percentile } from "../stats.ts";
import type { Target } from "./targets.ts";

export interface LoadFigures {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU (user + system) per request: steadier than wall-clock figures on a busy machine. */
  cpuPerRequestUs: number;
  failures: number;
}

export interface LoadOptions {
  body: Buffer;
  seconds: number;
  connections: number;
  /** Requests per second in all; absent: as fast as the server answers. */
  rate?: number;
  /** Stop after this many requests instead. */
  amount?: number;
}

export async function load(target: Target, options: LoadOptions): Promise<LoadFigures> {
  const samples: number[] = [];
  const cpuBefore = await cpuSecondsOf(target.pid);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `https://127.0.0.1:${target.port}/mutate`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: options.body,
        connections: options.connections,
        ...(options.amount ? { amount: options.amount } : { duration: options.seconds }),
        ...(options.rate ? { overallRate: options.rate } : {}),
      },
      (err, done) => (err ? reject(toError(err)) : resolve(done)),
    );
    instance.on("response", (_client, _status, _bytes, responseTime) => samples.push(responseTime));
  });
  const cpu = (await cpuSecondsOf(target.pid)) - cpuBefore;
  const requests = result.requests.total;
  return {
    requests,
    rps: requests / result.duration,
    p50Ms: percentile(samples, 0.5),
    p99Ms: percentile(samples, 0.99),
    cpuPerRequestUs: (cpu * 1e6) / Math.max(1, requests),
    failures: result.errors + result.non2xx + result.timeouts,
  };
}
