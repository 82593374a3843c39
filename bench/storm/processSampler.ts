// A process's memory and CPU over a stretch of time, from /proc every 100 ms: the largest VmRSS seen, VmHWM
// (the kernel's own peak, since the process started) at the end, and the CPU seconds used in between; and,
// once a second, what the process says of its V8 heap (its own metrics), to tell the heap from the rest.
import { cpuSecondsOf, residentOf } from "../proc.ts";

/** The V8 heap in use and the memory V8 accounts outside it (Buffers, ...), in MiB. */
export interface HeapReading {
  heapUsedMiB: number;
  externalMiB: number;
}

export interface ProcessUse {
  /** VmRSS before the stretch. */
  startRssMiB: number;
  /** The largest VmRSS sampled during it. */
  maxRssMiB: number;
  /** VmHWM at its end: the peak resident memory since the process started. */
  peakMiB: number;
  cpuSeconds: number;
  /** The largest heap readings during the stretch. */
  maxHeap: HeapReading;
}

export interface ProcessSampler {
  stop(): Promise<ProcessUse>;
}

export async function sampleProcess(
  pid: number,
  heap: () => Promise<HeapReading>,
  intervalMs = 100,
): Promise<ProcessSampler> {
  const start = await residentOf(pid);
  const cpuStart = await cpuSecondsOf(pid);
  let maxRss = start.rssMiB;
  const maxHeap = await heap();
  let failure: unknown;
  const fail = (err: unknown) => (failure ??= err);
  const rss = setInterval(() => {
    residentOf(pid).then((r) => (maxRss = Math.max(maxRss, r.rssMiB)), fail);
  }, intervalMs);
  const heapTimer = setInterval(() => {
    heap().then((h) => {
      maxHeap.heapUsedMiB = Math.max(maxHeap.heapUsedMiB, h.heapUsedMiB);
      maxHeap.externalMiB = Math.max(maxHeap.externalMiB, h.externalMiB);
    }, fail);
  }, 1_000);
  return {
    async stop() {
      clearInterval(rss);
      clearInterval(heapTimer);
      if (failure) throw failure;
      const end = await residentOf(pid);
      return {
        startRssMiB: start.rssMiB,
        maxRssMiB: Math.max(maxRss, end.rssMiB),
        peakMiB: end.peakMiB,
        cpuSeconds: (await cpuSecondsOf(pid)) - cpuStart,
        maxHeap,
      };
    },
  };
}
