// Command-line flags of `npm run demo -- [flags]`.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseDuration } from "../core/duration.ts";
import { repoRoot } from "../harness/cluster/paths.ts";
import type { StartupTime } from "../harness/fargate/startup.ts";

export const USAGE = `Usage: npm run demo -- [flags]

Runs the orchestrator against the local control plane (built or reused, started or reused), deploys a
sample app on spot, drills a spot interruption, narrates the move to Fargate and back, and writes an HTML
report. Cleans up on exit; the cluster itself is left running (npm run cluster:down deletes it).

Flags:
  --keep               leave everything running after the drill until Ctrl-C or 'npm run demo:down'
  --ci                 non-interactive: no colours, exit code says whether the demo succeeded
  --report <path>      where to write the HTML report (default: demo-report.html in the repository root)
  --kubeconfig <path>  use this cluster instead of the local one (never started or stopped by the demo)
  --fargate-start <duration>
                       how long a Fargate pod takes from scheduling to Ready, ±20% (default 45s; EKS takes
                       30–90 s); 0 for at once
  -h, --help           this text`;

export interface DemoOptions {
  keep: boolean;
  ci: boolean;
  reportPath: string;
  kubeconfig: string | undefined;
  /** The start-up time of the demo's Fargate pods. */
  fargateStartup: StartupTime;
}

/** Each Fargate pod draws its start-up time within ±20% of the mean, as start-ups vary on EKS. */
const FARGATE_START_JITTER = 0.2;

export function parseDemoArgs(argv: string[]): DemoOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      keep: { type: "boolean", default: false },
      ci: { type: "boolean", default: false },
      report: { type: "string" },
      kubeconfig: { type: "string" },
      "fargate-start": { type: "string", default: "45s" },
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
    fargateStartup: fargateStartup(values["fargate-start"]),
  };
}

function fargateStartup(text: string): StartupTime {
  const meanMs = parseDuration(text);
  return { meanMs, jitterMs: Math.round(meanMs * FARGATE_START_JITTER) };
}
