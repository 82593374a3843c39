// Argo CD's ignoreDifferences as the chart README recommends them, applied the way Argo CD applies
// jqPathExpressions: each one as `del(<expression>)` by gojq (the jq implementation Argo CD uses), on both
// the desired and the live object before they are compared.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { chartDir } from "../chart/helm.ts";
import { runCommand } from "../../harness/cluster/command.ts";

interface Application {
  spec?: { ignoreDifferences?: { group?: string; kind?: string; jqPathExpressions?: string[] }[] };
}

/** The jqPathExpressions for apps/Deployment in the chart README's Argo CD example. */
export function readmeIgnoreDifferences(): string[] {
  const readme = readFileSync(join(chartDir, "README.md"), "utf8");
  for (const [, block] of readme.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    for (const doc of parseAllDocuments(block!)) {
      const entries = (doc.toJS() as Application | null)?.spec?.ignoreDifferences ?? [];
      const deployment = entries.find((e) => e.group === "apps" && e.kind === "Deployment");
      if (deployment?.jqPathExpressions) return deployment.jqPathExpressions;
    }
  }
  throw new Error(`no ignoreDifferences for apps/Deployment in ${chartDir}/README.md`);
}

/** Each object with every expression deleted, in order, as Argo CD normalizes before diffing. */
export async function argoNormalize<T>(objects: readonly T[], expressions: readonly string[]): Promise<T[]> {
  const filter = `map(${expressions.map((e) => `del(${e})`).join(" | ")})`;
  const result = await runCommand("gojq", ["-c", filter], { input: JSON.stringify(objects) });
  if (result.code !== 0) throw new Error(`gojq ${filter} failed: ${result.stderr.trim()}`);
  return JSON.parse(result.stdout) as T[];
}
