// What a benchmark's figures depend on besides the code: the machine and how busy it was.
import { cpus, loadavg } from "node:os";

/** `2 CPUs; load average 1.20 / 0.80 / 0.50 (1, 5, 15 min)` */
export function machineLine(): string {
  const [one, five, fifteen] = loadavg().map((l) => l.toFixed(2));
  return `${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? "unknown"}); load average ${one} / ${five} / ${fifteen} (1, 5, 15 min)`;
}

/** The 1-minute load average now. */
export function loadNow(): number {
  return loadavg()[0]!;
}
