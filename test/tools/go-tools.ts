// The Go test tools (test/tools/go/<tool>/, built by go-tools.sh into the cache folder), by name.
import { execFileSync } from "node:child_process";
import { dirname, delimiter, join } from "node:path";
import { repoRoot } from "../cluster/paths.ts";

/** Builds whatever is missing and returns each tool's binary path. A failed build throws. */
export function buildGoTools(): Map<string, string> {
  const out = execFileSync("bash", [join(repoRoot, "test/tools/go-tools.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const tools = new Map<string, string>();
  for (const line of out.trim().split("\n").filter(Boolean)) {
    const [name, path] = line.split(" ");
    if (name && path) tools.set(name, path);
  }
  return tools;
}

/** Builds the Go test tools and puts each on PATH for this run (test workers inherit it). */
export function useGoTools(): Map<string, string> {
  const tools = buildGoTools();
  const dirs = [...tools.values()].map((path) => dirname(path));
  if (dirs.length > 0) process.env["PATH"] = [...dirs, process.env["PATH"] ?? ""].join(delimiter);
  return tools;
}
