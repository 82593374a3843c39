// Removes what a demo run put into the cluster, from its recorded state; every part is idempotent, so it
// serves both the demo's own exit and `npm run demo:down` after a demo that died.
import { connect } from "node:net";
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { ignoreNotFound } from "../harness/cluster/api-errors.ts";
import { terminateNode } from "../harness/cluster/nodes.ts";
import { errorMessage } from "../harness/cluster/wait.ts";
import { fargateWebhookName } from "../harness/fargate/emulator.ts";
import { fargateProfiles } from "../harness/fargate/profile-store.ts";
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

/**
 * After a demo that died: if the cluster's Fargate webhook still points at an emulator that no longer
 * listens (the dead demo's), remove it, or every pod creation fails. A live emulator re-registers itself.
 */
export async function releaseDeadFargateWebhook(kc: KubeConfig): Promise<boolean> {
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const config = await ignoreNotFound(() =>
    admission.readMutatingWebhookConfiguration({ name: fargateWebhookName }),
  );
  const url = config?.webhooks?.[0]?.clientConfig.url;
  if (!url || (await listens(new URL(url)))) return false;
  await ignoreNotFound(() => admission.deleteMutatingWebhookConfiguration({ name: fargateWebhookName }));
  return true;
}

function listens(url: URL): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 443), timeout: 2_000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("timeout", () => done(false));
    socket.once("error", () => done(false));
  });
}
