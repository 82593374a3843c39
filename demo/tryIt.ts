// What to try by hand while a `--keep` demo stays up: the kubeconfig, kubectl, and the CLI's commands.
import { dirname, relative } from "node:path";
import { Annotation, COMPUTE_LABEL } from "../core/contract.ts";
import { repoRoot } from "../harness/cluster/paths.ts";
import { drillArgs } from "./drill.ts";
import { appName } from "./sampleApp.ts";

export interface TryItContext {
  kubeconfigPath: string;
  kubectl: string | undefined;
  namespace: string;
  /** A spot node still running the app, to drill next. */
  spotNode: string;
  drillEnv: Record<string, string>;
  logDir: string;
}

export function tryItLines(ctx: TryItContext): string[] {
  const kubeconfig = shortPath(ctx.kubeconfigPath);
  const kubectl = `kubectl --kubeconfig ${kubeconfig} -n ${ctx.namespace}`;
  // The watcher runs with the same admin identity as this kubeconfig, so a change by hand must come from
  // someone else for the webhook to record it as a person's (reason=manual): impersonate one.
  const person = "--as=jane --as-group=system:masters";
  const env = Object.entries(ctx.drillEnv)
    .map(([key, value]) => `${key}=${value}`)
    .join(" ");
  return [
    `kubeconfig: ${ctx.kubeconfigPath}`,
    `kubectl:    ${ctx.kubectl ?? "any recent kubectl"}`,
    `logs:       ${ctx.logDir} (webhook.log, watcher.log)`,
    "",
    ...(ctx.kubectl ? [`export PATH="${dirname(ctx.kubectl)}:$PATH"`, ""] : []),
    "# state at a glance",
    `${kubectl} get deploy -L ${COMPUTE_LABEL}`,
    `${kubectl} get pods -o wide`,
    `npx node cli/main.ts status --kubeconfig ${kubeconfig} -n ${ctx.namespace}`,
    "",
    "# move it by hand, as a person (recovery never undoes a person's choice)",
    `${kubectl} ${person} annotate deploy ${appName} ${Annotation.compute}=fargate --overwrite`,
    `${kubectl} ${person} annotate deploy ${appName} ${Annotation.compute}=spot --overwrite`,
    "",
    "# another interruption drill",
    `${env} \\`,
    `  npx node cli/main.ts ${drillArgs(ctx.spotNode, kubeconfig).join(" ")}`,
    "",
    "# stop: Ctrl-C here, or from another terminal",
    "npm run demo:down",
  ];
}

function shortPath(path: string): string {
  const rel = relative(repoRoot, path);
  return rel.startsWith("..") ? path : rel;
}
