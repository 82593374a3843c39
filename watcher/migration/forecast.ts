// Whether the moves of one interruption can be Ready on Fargate before the node goes: every new pod needs
// Fargate's start-up, and the account launches `fargate.launch_rate` pods a second (a burst of as many at
// once). A Deployment whose pods are expected Ready after its node's deadline less their grace period will
// lose its pods on that node to the drainers (its drain guard is gone by then): said at the start of the move.
import type { V1Deployment } from "@kubernetes/client-node";
import type { Config } from "../../core/config.ts";
import { guardUntil } from "../moves/drainGuard.ts";

export interface AtRisk {
  deployment: V1Deployment;
  /** When its pods are expected Ready on Fargate. */
  readyBy: Date;
  /** When its pods on the doomed node can no longer wait (the deadline less their grace period). */
  holdUntil: Date;
}

/**
 * The Deployments just moved to Fargate (in the order they were flipped) that are not expected Ready before
 * `deadline`: the pods launch at the account's rate, each then takes the expected start-up.
 */
export function atRisk(
  moved: V1Deployment[],
  deadline: Date,
  now: number,
  fargate: Pick<Config["fargate"], "expectedStartup" | "launchRate">,
): AtRisk[] {
  const { expectedStartup, launchRate } = fargate;
  let launched = 0;
  const late: AtRisk[] = [];
  for (const deployment of moved) {
    launched += Math.max(1, deployment.spec?.replicas ?? 1);
    // the first `launchRate` pods launch at once (the burst), the rest at `launchRate` a second
    const launchMs = (Math.max(0, launched - launchRate) / launchRate) * 1000;
    const readyBy = new Date(now + launchMs + expectedStartup);
    const holdUntil = guardUntil(deployment, deadline);
    if (readyBy > holdUntil) late.push({ deployment, readyBy, holdUntil });
  }
  return late;
}
