// cert-manager for the chart tests: its real controllers and cainjector (the Go test tool
// test/tools/go/cert-manager, put on PATH by the integration setup), running out of cluster with the admin
// kubeconfig against the cluster under test; and readers of what it makes.
import { X509Certificate } from "node:crypto";
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
} from "@kubernetes/client-node";
import { testKubeconfigPath } from "../../support/testCluster.ts";
import { waitFor } from "../../../harness/cluster/wait.ts";
import { spawnLogged, type OrchestratorProcess } from "../../../harness/stack/process.ts";

export const injectCaFromAnnotation = "cert-manager.io/inject-ca-from";

/**
 * Starts cert-manager (the process takes the controller's and the cainjector's leader Leases in kube-system,
 * so a run sharing the cluster with another waits its turn). The CRDs must be applied first.
 */
export function startCertManager(logDir: string): OrchestratorProcess {
  return spawnLogged("cert-manager", "cert-manager", ["--kubeconfig", testKubeconfigPath(), "--v=2"], {
    env: { PATH: process.env["PATH"], HOME: process.env["HOME"] },
    logDir,
  });
}

export type CertManagerKind = "Issuer" | "ClusterIssuer" | "Certificate";

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface CertManagerObject {
  metadata: { name: string; namespace?: string };
  spec: Record<string, unknown>;
  status?: { conditions?: Condition[]; revision?: number };
}

const plurals: Record<CertManagerKind, string> = {
  Issuer: "issuers",
  ClusterIssuer: "clusterissuers",
  Certificate: "certificates",
};

export async function readCertManagerObject(
  kc: KubeConfig,
  kind: CertManagerKind,
  name: string,
  namespace?: string,
): Promise<CertManagerObject> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const common = { group: "cert-manager.io", version: "v1", plural: plurals[kind], name };
  return (await (namespace === undefined
    ? api.getClusterCustomObject(common)
    : api.getNamespacedCustomObject({ ...common, namespace }))) as CertManagerObject;
}

/** Waits for the object's Ready condition to be True; on timeout, says what its conditions were. */
export async function waitForReady(
  kc: KubeConfig,
  kind: CertManagerKind,
  name: string,
  namespace?: string,
  logFile = "",
): Promise<CertManagerObject> {
  return waitFor(
    `${kind} ${namespace ? `${namespace}/` : ""}${name} Ready${logFile ? ` (cert-manager log: ${logFile})` : ""}`,
    async () => {
      const object = await readCertManagerObject(kc, kind, name, namespace);
      const ready = object.status?.conditions?.find((c) => c.type === "Ready");
      if (ready?.status === "True") return object;
      throw new Error(
        `Ready: ${ready ? `${ready.status} ${ready.reason}: ${ready.message}` : "not reported yet"}`,
      );
    },
    { timeoutMs: 60_000 },
  );
}

export interface TlsSecret {
  caPem: string;
  certPem: string;
  keyPem: string;
  cert: X509Certificate;
  ca: X509Certificate;
}

/** A kubernetes.io/tls Secret as cert-manager writes it (ca.crt, tls.crt, tls.key). */
export async function readTlsSecret(kc: KubeConfig, namespace: string, name: string): Promise<TlsSecret> {
  const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name });
  const text = (key: string) => {
    const value = secret.data?.[key];
    if (!value) throw new Error(`Secret ${namespace}/${name} has no ${key}`);
    return Buffer.from(value, "base64").toString("utf8");
  };
  const [caPem, certPem, keyPem] = [text("ca.crt"), text("tls.crt"), text("tls.key")];
  return { caPem, certPem, keyPem, cert: new X509Certificate(certPem), ca: new X509Certificate(caPem) };
}

/** The subjectAltName entries of a certificate, e.g. `DNS:x.ns.svc`, `IP Address:127.0.0.1`. */
export function subjectAltNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? "").split(", ").filter(Boolean);
}

/** The caBundle of every webhook of the release's mutating and validating configurations (base64). */
export async function caBundles(kc: KubeConfig, name: string): Promise<string[]> {
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const mutating = await admission.readMutatingWebhookConfiguration({ name });
  const validating = await admission.readValidatingWebhookConfiguration({ name });
  return [...(mutating.webhooks ?? []), ...(validating.webhooks ?? [])].map(
    (w) => w.clientConfig.caBundle ?? "",
  );
}

/** Waits until every webhook of both configurations carries exactly this CA (PEM), as the cainjector sets it. */
export async function waitForInjectedCa(kc: KubeConfig, name: string, caPem: string): Promise<void> {
  const expected = Buffer.from(caPem).toString("base64");
  await waitFor(
    `the cainjector to set the caBundle of ${name}'s webhooks`,
    async () => {
      const bundles = await caBundles(kc, name);
      if (bundles.length > 0 && bundles.every((b) => b === expected)) return true;
      throw new Error(
        `caBundles: ${bundles.map((b) => (b === expected ? "ca.crt" : b ? "other" : "none")).join(", ")}`,
      );
    },
    { timeoutMs: 60_000 },
  );
}
