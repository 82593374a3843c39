// Runs `spot-orchestrator drill --node <node>` as a child process, exactly as a user would.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { cliPath } from "../harness/stack/process.ts";
import { repoRoot } from "../harness/cluster/paths.ts";

const execFileAsync = promisify(execFile);

/** What `drill` needs besides a kubeconfig: the queue, its endpoint, a region and (dummy) credentials. */
export function drillEnvironment(watcherEnvironment: Record<string, string>): Record<string, string> {
  const keys = [
    "SQS_QUEUE_URL",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
  ] as const;
  return Object.fromEntries(keys.map((key) => [key, watcherEnvironment[key] ?? ""]));
}

export function drillArgs(node: string, kubeconfigPath: string): string[] {
  return ["drill", "--node", node, "--kubeconfig", kubeconfigPath];
}

/** Sends the interruption; resolves with the CLI's output lines, rejects with its error output. */
export async function runDrill(options: {
  node: string;
  kubeconfigPath: string;
  env: Record<string, string>;
}): Promise<string[]> {
  try {
    const { stdout } = await execFileAsync(
      process.execPath,
      [cliPath, ...drillArgs(options.node, options.kubeconfigPath)],
      {
        cwd: repoRoot,
        env: { PATH: process.env["PATH"], HOME: process.env["HOME"], ...options.env },
        timeout: 60_000,
      },
    );
    return stdout.trimEnd().split("\n");
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`spot-orchestrator drill failed: ${stderr || (err as Error).message}`, { cause: err });
  }
}
