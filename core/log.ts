// One pino root logger per process; modules take children of it.
import { pino, type Logger, type LevelWithSilent } from "pino";

type LogFormat = "auto" | "console" | "json";
export type { Logger };

export interface LogConfig {
  level: LevelWithSilent;
  format: LogFormat;
}

/** `auto` writes readable lines on a terminal and JSON everywhere else (a pod's stdout). */
export function createLogger(config: LogConfig, base: Record<string, unknown> = {}): Logger {
  const pretty = config.format === "console" || (config.format === "auto" && process.stdout.isTTY === true);
  return pino({
    level: config.level,
    base,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    ...(pretty ? { transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l" } } } : {}),
  });
}
