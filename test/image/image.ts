// The product's container image in the tests: built (or reused when nothing it contains changed) by
// build-image.sh, and run with podman the way a kubelet would run the chart's containers.
import { join } from "node:path";
import { runCommand, type CommandResult } from "../../harness/cluster/command.ts";
import { repoRoot } from "../../harness/cluster/paths.ts";
import { spawnLogged, type OrchestratorProcess } from "../../harness/stack/process.ts";

export interface ContainerImage {
  ref: string;
  /** podman's environment: its configuration and image store under the cache folder. */
  env: Record<string, string>;
}

/** A cold build installs the container tools, makes the base image stand-ins and runs `npm ci`. */
export const imageBuildTimeoutMs = 20 * 60_000;

let built: Promise<ContainerImage> | undefined;

/** Builds the image, or finds it built; a failed build rejects with the script's output. */
export function containerImage(): Promise<ContainerImage> {
  built ??= runCommand("bash", [join(repoRoot, "test/image/build-image.sh")], {
    env: process.env,
    timeoutMs: imageBuildTimeoutMs,
  }).then(({ code, stdout, stderr }) => {
    if (code !== 0) throw new Error(`build-image.sh exited with ${code}:\n${stderr.slice(-4000)}`);
    const vars = new Map(
      stdout
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const),
    );
    const ref = vars.get("IMAGE");
    if (!ref) throw new Error(`build-image.sh printed no IMAGE=:\n${stdout}`);
    return {
      ref,
      env: {
        CONTAINERS_CONF: vars.get("CONTAINERS_CONF") ?? "",
        CONTAINERS_STORAGE_CONF: vars.get("CONTAINERS_STORAGE_CONF") ?? "",
      },
    };
  });
  return built;
}

/** Runs podman to completion; the exit code is in the result (a `podman run` gives the container's). */
export function podman(
  image: ContainerImage,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<CommandResult> {
  return runCommand("podman", args, { env: podmanEnv(image), timeoutMs });
}

/** The hardening the chart gives its containers: read-only root, no capabilities, no privilege gain, /tmp. */
export const restrictedRunFlags = [
  "--read-only",
  "--read-only-tmpfs=false",
  "--tmpfs=/tmp:rw,size=64m,mode=1777",
  "--cap-drop=ALL",
  "--security-opt=no-new-privileges",
] as const;

/**
 * `podman run --rm --name <name> <flags> <image> <args>` in the background, its output in `<logDir>/<name>.log`.
 * `stop()` sends SIGTERM to podman, which passes it to the container; `exited` is the container's exit code.
 */
export function startContainer(
  image: ContainerImage,
  name: string,
  flags: readonly string[],
  args: readonly string[],
  logDir: string,
): OrchestratorProcess {
  return spawnLogged(name, "podman", ["run", "--rm", "--name", name, ...flags, image.ref, ...args], {
    env: podmanEnv(image),
    logDir,
  });
}

/** Removes the container if a failed test left it running. */
export async function removeContainer(image: ContainerImage, name: string): Promise<void> {
  await podman(image, ["rm", "--force", "--ignore", name]);
}

function podmanEnv(image: ContainerImage): Record<string, string | undefined> {
  return { PATH: process.env["PATH"], HOME: process.env["HOME"], ...image.env };
}
