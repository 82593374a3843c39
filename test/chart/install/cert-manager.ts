// What cert-manager would do for the chart, without running it: issue the serving Certificate into the
// Secret it names (the controller), and copy that Secret's ca.crt into the webhook configurations that ask
// for it with `cert-manager.io/inject-ca-from` (the cainjector).
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
  type V1ValidatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { generateSelfSigned } from "../../../webhook/selfSigned.ts";

export const injectCaFromAnnotation = "cert-manager.io/inject-ca-from";

export interface CertificateSpec {
  secretName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  issuerRef: { name: string; kind?: string; group?: string };
}

export interface IssuedCertificate {
  secretName: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

export function readCertificate(
  kc: KubeConfig,
  namespace: string,
  name: string,
): Promise<{ spec: CertificateSpec }> {
  return kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: "cert-manager.io",
    version: "v1",
    namespace,
    plural: "certificates",
    name,
  }) as Promise<{ spec: CertificateSpec }>;
}

/** Signs a certificate for exactly the names the Certificate asks for and stores it as cert-manager does. */
export async function issueCertificate(
  kc: KubeConfig,
  namespace: string,
  name: string,
): Promise<IssuedCertificate> {
  const { spec } = await readCertificate(kc, namespace, name);
  const bundle = generateSelfSigned({
    dnsNames: spec.dnsNames,
    ipAddresses: spec.ipAddresses,
    loopback: false,
    validDays: 1,
  });
  const issued = { secretName: spec.secretName, ...bundle };

  const b64 = (text: string) => Buffer.from(text).toString("base64");
  await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
    namespace,
    body: {
      metadata: {
        name: spec.secretName,
        labels: { "controller.cert-manager.io/fao": "true" },
        annotations: {
          "cert-manager.io/certificate-name": name,
          "cert-manager.io/issuer-name": spec.issuerRef.name,
          "cert-manager.io/issuer-kind": spec.issuerRef.kind ?? "Issuer",
          "cert-manager.io/issuer-group": spec.issuerRef.group ?? "cert-manager.io",
          "cert-manager.io/alt-names": (spec.dnsNames ?? []).join(","),
          "cert-manager.io/ip-sans": (spec.ipAddresses ?? []).join(","),
        },
      },
      type: "kubernetes.io/tls",
      data: { "ca.crt": b64(issued.caPem), "tls.crt": b64(issued.certPem), "tls.key": b64(issued.keyPem) },
    },
  });
  return issued;
}

type WebhookConfiguration = V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration;

/**
 * The cainjector's job for one webhook configuration: follow its inject-ca-from annotation to the Certificate,
 * then to that Certificate's Secret (which must say it belongs to that Certificate), and set every webhook's
 * caBundle to the Secret's ca.crt. Returns the caBundle.
 */
export async function injectCa(
  kc: KubeConfig,
  kind: "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
  name: string,
): Promise<string> {
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const configuration: WebhookConfiguration =
    kind === "MutatingWebhookConfiguration"
      ? await admission.readMutatingWebhookConfiguration({ name })
      : await admission.readValidatingWebhookConfiguration({ name });
  const source = configuration.metadata?.annotations?.[injectCaFromAnnotation];
  const [namespace, certificateName] = source?.split("/") ?? [];
  if (!namespace || !certificateName)
    throw new Error(`${kind} ${name} has no ${injectCaFromAnnotation} annotation`);
  const { spec } = await readCertificate(kc, namespace, certificateName);
  const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name: spec.secretName });
  const owner = secret.metadata?.annotations?.["cert-manager.io/certificate-name"];
  if (owner !== certificateName) {
    throw new Error(
      `Secret ${namespace}/${spec.secretName} belongs to Certificate "${owner}", not "${certificateName}"`,
    );
  }
  const caBundle = secret.data?.["ca.crt"];
  if (!caBundle) throw new Error(`Secret ${namespace}/${spec.secretName} has no ca.crt`);

  for (const webhook of configuration.webhooks ?? []) webhook.clientConfig.caBundle = caBundle;
  if (kind === "MutatingWebhookConfiguration") {
    await admission.replaceMutatingWebhookConfiguration({
      name,
      body: configuration as V1MutatingWebhookConfiguration,
    });
  } else {
    await admission.replaceValidatingWebhookConfiguration({
      name,
      body: configuration as V1ValidatingWebhookConfiguration,
    });
  }
  return caBundle;
}
