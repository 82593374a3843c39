// The whole product for one suite (harness/stack), with its own Fargate profile, for the end-to-end suites.
import { join } from "node:path";
import type { KubeConfig, V1Node } from "@kubernetes/client-node";
import { afterAll, beforeAll } from "vitest";
import { terminateNode } from "../../harness/cluster/nodes.ts";
import { clusterDir } from "../../harness/cluster/paths.ts";
import { fargateProfiles } from "../../harness/fargate/profile-store.ts";
import type { FargateProfile } from "../../harness/fargate/profiles.ts";
import { startStack, type Stack } from "../../harness/stack/stack.ts";
import { testKubeconfigPath } from "./testCluster.ts";

export interface SuiteStack {
  /** The running stack (set once the suite's beforeAll has run). */
  readonly stack: Stack;
  /** Nodes the suite adds; terminated after it. */
  readonly nodes: V1Node[];
}

/**
 * The whole product for one suite's namespace (webhook and watcher processes, SQS emulator), with an emulated
 * Fargate profile for that namespace; all of it, and the nodes the suite adds, removed after the suite.
 * `sharedEnv`: settings both processes read (placement, fallback); `fargate`: the profile's emulation settings
 * (start-up time, quotas).
 */
export function useStack(
  kc: KubeConfig,
  ns: { readonly name: string },
  watcherEnv: Record<string, string> | (() => Record<string, string>),
  sharedEnv: Record<string, string> = {},
  fargate: Omit<FargateProfile, "name" | "selectors"> = {},
): SuiteStack {
  const suite: { stack?: Stack; nodes: V1Node[] } = { nodes: [] };
  const profile = () => `fp-${ns.name}`;
  beforeAll(async () => {
    await fargateProfiles(kc).add({
      name: profile(),
      selectors: [{ namespace: ns.name, labels: { "compute-type": "fargate" } }],
      ...fargate,
    });
    suite.stack = await startStack({
      kc,
      kubeconfigPath: testKubeconfigPath(),
      namespace: ns.name,
      logDir: join(clusterDir, "logs", ns.name),
      watcherEnv: typeof watcherEnv === "function" ? watcherEnv() : watcherEnv,
      sharedEnv,
    });
  });
  afterAll(async () => {
    await suite.stack?.stop();
    await fargateProfiles(kc).remove(profile());
    await Promise.all(suite.nodes.map((n) => terminateNode(kc, n.metadata?.name ?? "")));
  });
  return {
    get stack() {
      if (!suite.stack) throw new Error("the stack starts in the suite's beforeAll");
      return suite.stack;
    },
    nodes: suite.nodes,
  };
}
