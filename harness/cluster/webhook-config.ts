import {
  AdmissionregistrationV1Api,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { ignoreNotFound, statusCodeOf } from "./api-errors.ts";

/** Creates the configuration, or replaces the one of that name (a previous run may have left it). */
export async function applyMutatingWebhookConfiguration(
  kc: KubeConfig,
  body: V1MutatingWebhookConfiguration,
): Promise<void> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const name = body.metadata?.name ?? "";
  for (;;) {
    const existing = await ignoreNotFound(() => api.readMutatingWebhookConfiguration({ name }));
    try {
      if (!existing) {
        await api.createMutatingWebhookConfiguration({ body });
      } else {
        const metadata = { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion };
        await api.replaceMutatingWebhookConfiguration({ name, body: { ...body, metadata } });
      }
      return;
    } catch (err) {
      if (statusCodeOf(err) !== 409) throw err;
    }
  }
}

export async function deleteMutatingWebhookConfiguration(kc: KubeConfig, name: string): Promise<void> {
  await ignoreNotFound(() =>
    kc.makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name }),
  );
}
