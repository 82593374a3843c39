// Runs a command-line tool (kubectl, a Go test tool, ...) to completion and reports what it did.
import { execFile, spawn } from "node:child_process";
import { repoRoot } from "./paths.ts";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `file` with `args`, feeding `input` on stdin. Resolves with its exit code and output whatever the
 * code; rejects only when it cannot be started or outlives `timeoutMs`.
 */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number; env?: Record<string, string | undefined> } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, cwd: repoRoot, env: options.env },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") {
          reject(new Error(`${file} ${args.join(" ")} failed: ${stderr || err.message}`));
        } else resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? "");
  });
}

/** Runs a build script of the harness in the repository: its progress (stderr) shows, its stdout is returned. */
export function runScript(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(" ")} exited with ${code}`));
    });
  });
}
