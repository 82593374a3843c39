// Registers a webhook process with the apiserver by URL (clientConfig.url on 127.0.0.1 + caBundle), with the
// same rules as the chart: apps/v1 Deployments carrying orchestrator annotations (matchConditions), one
// namespace here.
import {
  AdmissionregistrationV1Api,
  type KubeConfig,
  type V1RuleWithOperations,
} from "@kubernetes/client-node";
import { ignoreNotFound } from "../cluster/api-errors.ts";
import { orchestratorMatchConditions } from "../cluster/match-conditions.ts";

const rules: V1RuleWithOperations[] = [
  {
    apiGroups: ["apps"],
    apiVersions: ["v1"],
    operations: ["CREATE", "UPDATE"],
    resources: ["deployments"],
    scope: "Namespaced",
  },
];

export interface WebhookRegistration {
  name: string;
  remove(): Promise<void>;
}

export async function registerWebhook(
  kc: KubeConfig,
  options: {
    name: string;
    baseUrl: string;
    caBundle: string;
    namespace: string;
    failurePolicy?: "Fail" | "Ignore";
  },
): Promise<WebhookRegistration> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const common = {
    admissionReviewVersions: ["v1"],
    sideEffects: "None",
    timeoutSeconds: 5,
    matchPolicy: "Equivalent",
    failurePolicy: options.failurePolicy ?? "Fail",
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": options.namespace } },
    matchConditions: orchestratorMatchConditions(),
    rules,
  };
  const { name } = options;
  await api.createMutatingWebhookConfiguration({
    body: {
      metadata: { name },
      webhooks: [
        {
          name: "mutate.spot-orchestrator.io",
          clientConfig: { url: `${options.baseUrl}/mutate`, caBundle: options.caBundle },
          reinvocationPolicy: "IfNeeded",
          ...common,
        },
      ],
    },
  });
  await api.createValidatingWebhookConfiguration({
    body: {
      metadata: { name },
      webhooks: [
        {
          name: "validate.spot-orchestrator.io",
          clientConfig: { url: `${options.baseUrl}/validate`, caBundle: options.caBundle },
          ...common,
        },
      ],
    },
  });
  return {
    name,
    async remove() {
      await ignoreNotFound(() => api.deleteMutatingWebhookConfiguration({ name }));
      await ignoreNotFound(() => api.deleteValidatingWebhookConfiguration({ name }));
    },
  };
}
