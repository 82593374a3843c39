// The benchmarks run the processes as the container image runs them: with the environment its Dockerfile
// sets (NODE_OPTIONS and the like) and a warm compile cache (the image carries one, so nothing is compiled
// from TypeScript at start-up).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../harness/cluster/paths.ts";

/** Filled by the processes' first start (Node writes the cache as a process exits). */
export const compileCacheDir = join(repoRoot, ".bench", "compile-cache");

/** The `ENV KEY=value` lines of the Dockerfile's last stage (the image that runs). */
export function imageEnv(): Record<string, string> {
  const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
  const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
  const env: Record<string, string> = {};
  for (const [, key, quoted, bare] of runtime.matchAll(/^ENV (\w+)=(?:"([^"]*)"|(\S*))$/gm)) {
    env[key!] = quoted ?? bare ?? "";
  }
  return env;
}

/** The environment that starts a `node` process as in the image; `nodeOptions` overrides the image's. */
export function imageRuntimeEnv(nodeOptions?: string): Record<string, string> {
  const env = { ...imageEnv(), NODE_COMPILE_CACHE: compileCacheDir };
  return nodeOptions === undefined ? env : { ...env, NODE_OPTIONS: nodeOptions };
}
