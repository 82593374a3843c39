// Command-line flags of `npm run demo -- [flags]`.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { repoRoot } from "../test/cluster/paths.ts";

export const USAGE = `Usage: npm run demo -- [flags]

Runs the orchestrator against the local control plane (built or reused, started or reused), deploys a
sample app on spot, drills a spot interruption, narrates the move to Fargate and back, and writes an HTML
report. Cleans up on exit; the cluster itself is left running (npm run cluster:down deletes it).

Flags:
  --keep               leave everything running after the drill until Ctrl-C or 'npm run demo:down'
  --ci                 non-interactive: no colours, exit code says whether the demo succeeded
  --report <path>      where to write the HTML report (default: demo-report.html in the repository root)
  --kubeconfig <path>  use this cluster instead of the local one (never started or stopped by the demo)
  -h, --help           this text`;

export interface DemoOptions {
  keep: boolean;
  ci: boolean;
  reportPath: string;
  kubeconfig: string | undefined;
}

export function parseDemoArgs(argv: string[]): DemoOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      keep: { type: "boolean", default: false },
      ci: { type: "boolean", default: false },
      report: { type: "string" },
      kubeconfig: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  if (values.keep && values.ci) throw new Error("--keep and --ci do not go together");
  return {
    keep: values.keep,
    ci: values.ci,
    reportPath: resolve(values.report ?? `${repoRoot}/demo-report.html`),
    kubeconfig: values.kubeconfig,
  };
}
