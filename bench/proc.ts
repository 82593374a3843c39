// A process's resident memory (current VmRSS and peak VmHWM) and CPU time, from /proc (Linux).
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

export interface Resident {
  rssMiB: number;
  peakMiB: number;
}

export async function residentOf(pid: number): Promise<Resident> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]);
  };
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/** The median of a few readings a second apart: RSS moves with every garbage collection. */
export async function settledResident(pid: number, samples = 5, intervalMs = 1_000): Promise<Resident> {
  const readings: Resident[] = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(intervalMs);
    readings.push(await residentOf(pid));
  }
  const rss = readings.map((r) => r.rssMiB).sort((a, b) => a - b);
  return { rssMiB: rss[Math.floor(rss.length / 2)]!, peakMiB: Math.max(...readings.map((r) => r.peakMiB)) };
}

/** CPU seconds (user + system) the process has used; /proc counts in clock ticks of 1/100 s. */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // the fields after the command name, which is in parentheses and may hold spaces
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
