// A process's memory and CPU over a stretch of time, from /proc every 100 ms: the largest VmRSS seen, VmHWM
// (the kernel's own peak, since the process started) at the end, and the CPU seconds used in between.
import { cpuSecondsOf, residentOf } from "../proc.ts";

export interface ProcessUse {
  /** VmRSS before the stretch. */
  startRssMiB: number;
  /** The largest VmRSS sampled during it. */
  maxRssMiB: number;
  /** VmHWM at its end: the peak resident memory since the process started. */
  peakMiB: number;
  cpuSeconds: number;
}

export interface ProcessSampler {
  stop(): Promise<ProcessUse>;
}

export async function sampleProcess(pid: number, intervalMs = 100): Promise<ProcessSampler> {
  const start = await residentOf(pid);
  const cpuStart = await cpuSecondsOf(pid);
  let maxRss = start.rssMiB;
  let failure: unknown;
  const timer = setInterval(() => {
    residentOf(pid).then(
      (r) => (maxRss = Math.max(maxRss, r.rssMiB)),
      (err: unknown) => (failure ??= err),
    );
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      if (failure) throw failure;
      const end = await residentOf(pid);
      return {
        startRssMiB: start.rssMiB,
        maxRssMiB: Math.max(maxRss, end.rssMiB),
        peakMiB: end.peakMiB,
        cpuSeconds: (await cpuSecondsOf(pid)) - cpuStart,
      };
    },
  };
}
