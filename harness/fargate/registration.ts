import { randomBytes } from "node:crypto";
import {
  AdmissionregistrationV1Api,
  CoordinationV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { ignoreNotFound } from "../cluster/api-errors.ts";
import {
  applyMutatingWebhookConfiguration,
  deleteMutatingWebhookConfiguration,
} from "../cluster/webhook-config.ts";

// Several test runs can share one cluster, each with its own emulator, but EKS has exactly one Fargate
// webhook. Each emulator announces itself with a Lease (its URL and CA in annotations, a heartbeat);
// the registration points at one live emulator, and an emulator leaving hands it to another live one.

/** The name EKS gives its own Fargate pod mutation webhook. */
export const fargateWebhookName = "0500-amazon-eks-fargate-mutation.amazonaws.com";

const leaseNamespace = "kube-system";
const leaseLabel = "test.spot-orchestrator.io/eks-fargate-emulator";
const urlKey = "test.spot-orchestrator.io/url";
const caBundleKey = "test.spot-orchestrator.io/ca-bundle";
const heartbeatKey = "test.spot-orchestrator.io/heartbeat";
const staleAfterMs = 15_000;

interface Endpoint {
  url: string;
  caBundle: string;
}

export interface WebhookRegistration {
  /** Heartbeat; takes the registration over when it is missing or points at a dead emulator. */
  upkeep(): Promise<void>;
  /** Leaves: hands the registration to another live emulator, or removes it. */
  release(): Promise<void>;
}

export async function registerFargateWebhook(kc: KubeConfig, self: Endpoint): Promise<WebhookRegistration> {
  const registration = new EmulatorLease(kc, self);
  await registration.announce();
  return registration;
}

/** One emulator's Lease, and the registration it keeps pointing at a live emulator. */
class EmulatorLease implements WebhookRegistration {
  private readonly kc: KubeConfig;
  private readonly self: Endpoint;
  private readonly leases: CoordinationV1Api;
  private readonly admission: AdmissionregistrationV1Api;
  private readonly leaseName = `eks-fargate-emulator-${randomBytes(4).toString("hex")}`;

  constructor(kc: KubeConfig, self: Endpoint) {
    this.kc = kc;
    this.self = self;
    this.leases = kc.makeApiClient(CoordinationV1Api);
    this.admission = kc.makeApiClient(AdmissionregistrationV1Api);
  }

  /** Creates the Lease and points the registration at this emulator. */
  async announce(): Promise<void> {
    await this.leases.createNamespacedLease({
      namespace: leaseNamespace,
      body: {
        metadata: { name: this.leaseName, labels: { [leaseLabel]: "true" }, annotations: this.annotations() },
        spec: { holderIdentity: this.leaseName },
      },
    });
    await applyMutatingWebhookConfiguration(this.kc, webhookConfiguration(this.self));
  }

  async upkeep(): Promise<void> {
    await this.leases.patchNamespacedLease(
      {
        namespace: leaseNamespace,
        name: this.leaseName,
        body: { metadata: { annotations: this.annotations() } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const url = await this.registeredUrl();
    const live = await this.liveEndpoints();
    if (!url || !live.some((endpoint) => endpoint.url === url)) {
      await applyMutatingWebhookConfiguration(this.kc, webhookConfiguration(this.self));
    }
  }

  async release(): Promise<void> {
    await ignoreNotFound(() =>
      this.leases.deleteNamespacedLease({ namespace: leaseNamespace, name: this.leaseName }),
    );
    if ((await this.registeredUrl()) !== this.self.url) return;
    const successor = (await this.liveEndpoints()).find((endpoint) => endpoint.url !== this.self.url);
    if (successor) await applyMutatingWebhookConfiguration(this.kc, webhookConfiguration(successor));
    else await deleteMutatingWebhookConfiguration(this.kc, fargateWebhookName);
  }

  private annotations(): Record<string, string> {
    return {
      [urlKey]: this.self.url,
      [caBundleKey]: this.self.caBundle,
      [heartbeatKey]: String(Date.now()),
    };
  }

  /** Emulators with a recent heartbeat; leases of long-dead ones (killed runs) are deleted on the way. */
  private async liveEndpoints(): Promise<Endpoint[]> {
    const list = await this.leases.listNamespacedLease({
      namespace: leaseNamespace,
      labelSelector: `${leaseLabel}=true`,
    });
    const live: Endpoint[] = [];
    for (const lease of list.items) {
      const a = lease.metadata?.annotations ?? {};
      const silentMs = Date.now() - Number(a[heartbeatKey] ?? 0);
      if (silentMs < staleAfterMs) live.push({ url: a[urlKey] ?? "", caBundle: a[caBundleKey] ?? "" });
      else if (silentMs > 4 * staleAfterMs) {
        const name = lease.metadata?.name ?? "";
        await ignoreNotFound(() => this.leases.deleteNamespacedLease({ namespace: leaseNamespace, name }));
      }
    }
    return live;
  }

  private async registeredUrl(): Promise<string | undefined> {
    const configuration = await ignoreNotFound(() =>
      this.admission.readMutatingWebhookConfiguration({ name: fargateWebhookName }),
    );
    return configuration?.webhooks?.[0]?.clientConfig.url;
  }
}

function webhookConfiguration({ url, caBundle }: Endpoint): V1MutatingWebhookConfiguration {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: fargateWebhookName },
    webhooks: [
      {
        name: fargateWebhookName,
        clientConfig: { url, caBundle },
        rules: [
          {
            operations: ["CREATE"],
            apiGroups: [""],
            apiVersions: ["v1"],
            resources: ["pods"],
            scope: "Namespaced",
          },
        ],
        admissionReviewVersions: ["v1"],
        sideEffects: "NoneOnDryRun",
        // a pod matching a profile must never slip onto EC2 because the emulator was unreachable
        failurePolicy: "Fail",
        timeoutSeconds: 10,
        reinvocationPolicy: "Never",
      },
    ],
  };
}
