// Files of a Go module, from the Go module cache (downloaded once through the Go module proxy).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The extracted folder of `module@version` in GOMODCACHE; downloads it when it is not there yet. */
export function goModuleDir(module: string, version: string): string {
  const modCache = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
  // The module cache spells upper-case letters as "!" + lower case.
  const cached = join(modCache, `${module.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`)}@${version}`);
  if (existsSync(cached)) return cached;
  const info = JSON.parse(
    execFileSync("go", ["mod", "download", "-json", `${module}@${version}`], {
      cwd: mkdtempSync(join(tmpdir(), "sfo-gomod-")),
      encoding: "utf8",
      env: { ...process.env, GOFLAGS: "-mod=mod" },
      timeout: 300_000,
    }),
  ) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? "no Dir"}`);
  return info.Dir;
}
