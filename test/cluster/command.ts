// Runs a command-line tool (kubectl, a Go test tool, ...) to completion and reports what it did.
import { execFile } from "node:child_process";

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
  options: { input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") {
          reject(new Error(`${file} ${args.join(" ")} failed: ${stderr || err.message}`));
        } else resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? "");
  });
}
