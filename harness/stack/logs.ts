// Reads a process's JSON log (one pino object per line), for tests that assert what it did and why.
import { readFileSync } from "node:fs";

export type LogLine = Record<string, unknown> & { msg?: string; level?: string | number };

export function readLog(file: string): LogLine[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text.split("\n").flatMap((line) => {
    if (!line.startsWith("{")) return [];
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });
}

/** Index of the first line from `from` on that matches; -1 when none does. */
export function indexOfLine(lines: LogLine[], match: (line: LogLine) => boolean, from = 0): number {
  const index = lines.slice(from).findIndex(match);
  return index < 0 ? -1 : from + index;
}

export const message = (msg: string) => (line: LogLine) => line.msg === msg;
