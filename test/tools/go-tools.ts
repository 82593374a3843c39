// The Go test tools (test/tools/go/<tool>/, built by go-tools.sh into the cache folder), by name.
import { dirname, delimiter, join } from "node:path";
import { runScript } from "../../harness/cluster/command.ts";
import { repoRoot } from "../../harness/cluster/paths.ts";

/** Builds whatever is missing and returns each tool's binary path. A failed build rejects. */
export async function buildGoTools(): Promise<Map<string, string>> {
  const out = await runScript("bash", [join(repoRoot, "test/tools/go-tools.sh")]);
  const tools = new Map<string, string>();
  for (const line of out.trim().split("\n").filter(Boolean)) {
    const [name, path] = line.split(" ");
    if (name && path) tools.set(name, path);
  }
  return tools;
}

/** Builds the Go test tools and puts each on PATH for this run (test workers inherit it). */
export async function useGoTools(): Promise<Map<string, string>> {
  const tools = await buildGoTools();
  const dirs = [...tools.values()].map((path) => dirname(path));
  if (dirs.length > 0) process.env["PATH"] = [...dirs, process.env["PATH"] ?? ""].join(delimiter);
  return tools;
}
