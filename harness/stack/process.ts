// Runs a `spot-orchestrator` subcommand as a real child process (its public interface), logging to a file, or
// to its end for its output.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { once } from "node:events";
import { repoRoot } from "../cluster/paths.ts";
import { waitFor } from "../cluster/wait.ts";

export interface OrchestratorProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export const cliPath = join(repoRoot, "cli/main.ts");

export function startOrchestrator(
  name: string,
  args: string[],
  options: { env?: Record<string, string | undefined>; logDir: string },
): OrchestratorProcess {
  // A clean environment: the test runner's own variables (MODE, NODE_ENV, ...) must not leak into the config.
  const env = { PATH: process.env["PATH"], HOME: process.env["HOME"], LOG_FORMAT: "json", ...options.env };
  return spawnLogged(name, process.execPath, [cliPath, ...args], { env, logDir: options.logDir });
}

/** Runs `command` with exactly `env`, its stdout and stderr appended to `<logDir>/<name>.log`. */
export function spawnLogged(
  name: string,
  command: string,
  args: string[],
  options: { env: Record<string, string | undefined>; logDir: string },
): OrchestratorProcess {
  mkdirSync(options.logDir, { recursive: true });
  const logFile = join(options.logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(command, args, { cwd: repoRoot, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const exited = once(child, "exit").then(([code]) => {
    log.end();
    return code as number | null;
  });
  return {
    name,
    child,
    logFile,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Waits for `GET url` to answer 200, failing early with the log's path if the process exits. */
export async function waitUntilReady(
  process: OrchestratorProcess,
  url: string,
  timeoutMs = 60_000,
): Promise<void> {
  let exitCode: number | null | undefined;
  void process.exited.then((code) => (exitCode = code));
  await waitFor(
    `${process.name} ready at ${url} (log: ${process.logFile})`,
    async () => {
      if (exitCode !== undefined)
        throw new Error(`${process.name} exited with code ${exitCode}; see ${process.logFile}`);
      const res = await fetch(url);
      return res.ok;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}

/** Runs `spot-orchestrator <args>` to its end with exactly `env` (and PATH); its exit code and output. */
export function runCli(
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 60_000,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { cwd: repoRoot, env: { PATH: process.env["PATH"], ...env }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ code: typeof err?.code === "number" ? err.code : 0, output: `${stdout}${stderr}` });
      },
    );
  });
}
