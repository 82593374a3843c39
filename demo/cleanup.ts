// Removes what a demo run put into the cluster, from its recorded state; every part is idempotent, so it
// serves both the demo's own exit and `npm run demo:down` after a demo that died.
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { ignoreNotFound } from "../test/cluster/api-errors.ts";
import { terminateNode } from "../test/cluster/nodes.ts";
import { errorMessage } from "../test/cluster/wait.ts";
import { fargateProfiles } from "../test/fargate/profile-store.ts";
import type { DemoState } from "./state.ts";

/** Runs every part even when one fails; returns what failed. */
export async function cleanUpCluster(kc: KubeConfig, state: DemoState): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (what: string, action: () => Promise<unknown>) => {
    try {
      await action();
    } catch (err) {
      problems.push(`${what}: ${errorMessage(err)}`);
    }
  };
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const webhook = state.webhookConfiguration;
  if (webhook) {
    await attempt(`webhook configuration ${webhook}`, async () => {
      await ignoreNotFound(() => admission.deleteMutatingWebhookConfiguration({ name: webhook }));
      await ignoreNotFound(() => admission.deleteValidatingWebhookConfiguration({ name: webhook }));
    });
  }
  // Fargate nodes made for pods the demo did not see (moves by hand while it kept running)
  await attempt(`pods of ${state.namespace}`, async () => {
    const pods = await core.listNamespacedPod({ namespace: state.namespace });
    for (const pod of pods.items) {
      const node = pod.spec?.nodeName;
      if (node?.startsWith("fargate-") && !state.nodes.includes(node)) state.nodes.push(node);
    }
  });
  // the namespace first: pods in a terminating namespace are not recreated when their nodes go
  await attempt(`namespace ${state.namespace}`, () =>
    ignoreNotFound(() => core.deleteNamespace({ name: state.namespace })),
  );
  const profile = state.fargateProfile;
  if (profile) await attempt(`Fargate profile ${profile}`, () => fargateProfiles(kc).remove(profile));
  for (const node of state.nodes) await attempt(`node ${node}`, () => terminateNode(kc, node));
  return problems;
}
