// What cert-manager would do for the chart, without running it: issue the serving Certificate into the
// Secret it names (the controller), and copy that Secret's ca.crt into the webhook configurations that ask
// for it with `cert-manager.io/inject-ca-from` (the cainjector).
import { generateKeyPairSync, randomBytes } from "node:crypto";
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
  type V1ValidatingWebhookConfiguration,
} from "@kubernetes/client-node";
import forge from "node-forge";

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
  const ca = keyPair();
  const caCert = certificate(`${name} CA`, ca.publicKey, undefined, [
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
  ]);
  caCert.sign(ca.privateKey, forge.md.sha256.create());
  const server = keyPair();
  const altNames = [
    ...(spec.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(spec.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  const serverCert = certificate(spec.dnsNames?.[0] ?? name, server.publicKey, caCert, [
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames },
  ]);
  serverCert.sign(ca.privateKey, forge.md.sha256.create());
  const issued = {
    secretName: spec.secretName,
    caPem: forge.pki.certificateToPem(caCert),
    certPem: forge.pki.certificateToPem(serverCert),
    keyPem: forge.pki.privateKeyToPem(server.privateKey),
  };

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

// node's native RSA generation is far faster than forge's pure-JS one
function keyPair(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey } {
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const key = forge.pki.privateKeyFromPem(privateKey);
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
}

function certificate(
  commonName: string,
  publicKey: forge.pki.rsa.PublicKey,
  issuer: forge.pki.Certificate | undefined,
  extensions: object[],
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // a leading 01 keeps the serial positive
  cert.serialNumber = `01${randomBytes(15).toString("hex")}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  const subject = [{ name: "commonName", value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(issuer ? issuer.subject.attributes : subject);
  cert.setExtensions(extensions);
  return cert;
}
