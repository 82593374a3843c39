// The chart with real cert-manager in two installs users make that the main install test does not: the
// longest release name Helm allows (53 characters), and `certManager.issuerRef` naming a ClusterIssuer of the
// user's own. In both, cert-manager must issue the serving certificate and its cainjector inject the CA.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ignoreNotFound } from "../../harness/cluster/api-errors.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { createNamespace, deleteNamespace } from "../../harness/cluster/namespace.ts";
import { clusterDir } from "../../harness/cluster/paths.ts";
import type { OrchestratorProcess } from "../../harness/stack/process.ts";
import {
  readTlsSecret,
  startCertManager,
  subjectAltNames,
  waitForInjectedCa,
  waitForReady,
} from "./install/cert-manager.ts";
import { applyPrerequisiteCrds } from "./install/crds.ts";
import {
  installRelease,
  objectRef,
  releaseManifests,
  uninstallRelease,
  type Release,
} from "./install/release.ts";
import { one, type KubeObject } from "./helm.ts";

const kc = testKubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const suffix = randomBytes(3).toString("hex");
const scratch = mkdtempSync(join(tmpdir(), "sfo-chart-cert-manager-"));
const logDir = join(clusterDir, "logs", `chart-cert-manager-${suffix}`);
let certManager: OrchestratorProcess | undefined;

beforeAll(async () => {
  await applyPrerequisiteCrds();
  certManager = startCertManager(logDir);
});

afterAll(async () => {
  await certManager?.stop(10_000);
});

/** Values that keep a release to itself on a shared cluster: its webhooks select no namespace, no pod runs. */
function isolatedValues(namespace: string): Record<string, unknown> {
  return {
    nodeSelector: { "eks.amazonaws.com/nodegroup": `none-${suffix}` },
    config: {
      kubernetes: { namespace: [namespace] },
      aws: { region: "eu-west-1", sqs_queue_url: "https://sqs.eu-west-1.amazonaws.com/123456789012/unused" },
    },
  };
}

/** Installs the release in a new namespace; returns its manifests, with `release` completed. */
async function install(release: Release, values: Record<string, unknown>): Promise<KubeObject[]> {
  release.namespace = await createNamespace(kc, "chart-cm");
  await installRelease(release, { ...isolatedValues(release.namespace), ...values }, scratch);
  const manifests = await releaseManifests(release);
  release.fullname = one(manifests, "Deployment").metadata.name;
  return manifests;
}

async function remove(release: Release): Promise<void> {
  if (!release.namespace) return;
  await uninstallRelease(release).catch(() => undefined);
  await deleteNamespace(kc, release.namespace);
}

describe("the chart with a 53-character release name", () => {
  const release: Release = { name: `sfo-${suffix}-`.padEnd(53, "x"), namespace: "", fullname: "" };
  let manifests: KubeObject[] = [];

  beforeAll(async () => {
    manifests = await install(release, {});
  }, 60_000);
  afterAll(() => remove(release), 60_000);

  it("installs, and cert-manager makes every Issuer and Certificate Ready", async () => {
    expect(release.name).toHaveLength(53);
    expect(release.fullname).toHaveLength(63);
    const certManagerObjects = manifests.filter((o) => o.kind === "Issuer" || o.kind === "Certificate");
    expect(certManagerObjects).toHaveLength(4);
    for (const object of certManagerObjects) {
      await waitForReady(
        kc,
        object.kind as "Issuer" | "Certificate",
        object.metadata.name,
        release.namespace,
      );
    }
  });

  it("names its CA within the 64 characters of a common name, and serves the Service's DNS names", async () => {
    const issued = await readTlsSecret(kc, release.namespace, `${release.fullname}-tls`);
    const commonName = issued.ca.subject.replace(/^CN=/, "");
    expect(commonName).toBe(`${release.fullname.slice(0, 61).replace(/-+$/, "")}-ca`);
    expect(commonName.length).toBeLessThanOrEqual(64);
    const service = one(manifests, "Service").metadata.name;
    expect(subjectAltNames(issued.cert)).toContain(`DNS:${service}.${release.namespace}.svc`);
    expect(issued.cert.checkIssued(issued.ca)).toBe(true);
    await waitForInjectedCa(kc, release.fullname, issued.caPem);
  });
});

describe("the chart with certManager.issuerRef naming a ClusterIssuer of the user's own", () => {
  const release: Release = { name: `sfo-byo-${suffix}`, namespace: "", fullname: "" };
  // The user's CA: a self-signed root issues a CA certificate into the cluster resource namespace
  // (kube-system for this cert-manager), which a CA ClusterIssuer signs with.
  const root = `sfo-byo-root-${suffix}`;
  const ca = `sfo-byo-ca-${suffix}`;
  let manifests: KubeObject[] = [];

  const clusterIssuer = (name: string, spec: object) =>
    custom.createClusterCustomObject({
      group: "cert-manager.io",
      version: "v1",
      plural: "clusterissuers",
      body: { apiVersion: "cert-manager.io/v1", kind: "ClusterIssuer", metadata: { name }, spec },
    });

  beforeAll(async () => {
    await clusterIssuer(root, { selfSigned: {} });
    await custom.createNamespacedCustomObject({
      group: "cert-manager.io",
      version: "v1",
      namespace: "kube-system",
      plural: "certificates",
      body: {
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata: { name: ca },
        spec: {
          isCA: true,
          commonName: `corporate CA ${suffix}`,
          secretName: ca,
          privateKey: { algorithm: "ECDSA", size: 256 },
          issuerRef: { name: root, kind: "ClusterIssuer", group: "cert-manager.io" },
        },
      },
    });
    await clusterIssuer(ca, { ca: { secretName: ca } });
    await waitForReady(kc, "ClusterIssuer", ca, undefined, certManager?.logFile);
    manifests = await install(release, {
      certManager: { issuerRef: { name: ca, kind: "ClusterIssuer", group: "cert-manager.io" } },
    });
  }, 90_000);

  afterAll(async () => {
    await remove(release);
    const group = { group: "cert-manager.io", version: "v1" };
    for (const name of [ca, root]) {
      await ignoreNotFound(() =>
        custom.deleteClusterCustomObject({ ...group, plural: "clusterissuers", name }),
      );
    }
    await ignoreNotFound(() =>
      custom.deleteNamespacedCustomObject({
        ...group,
        plural: "certificates",
        namespace: "kube-system",
        name: ca,
      }),
    );
    await ignoreNotFound(() =>
      kc.makeApiClient(CoreV1Api).deleteNamespacedSecret({ namespace: "kube-system", name: ca }),
    );
  }, 60_000);

  it("creates only the serving Certificate, which that ClusterIssuer issues", async () => {
    const certManagerObjects = manifests.filter((o) => o.kind === "Issuer" || o.kind === "Certificate");
    expect(certManagerObjects.map(objectRef)).toEqual([
      `Certificate ${release.namespace}/${release.fullname}-serving`,
    ]);
    await waitForReady(
      kc,
      "Certificate",
      `${release.fullname}-serving`,
      release.namespace,
      certManager?.logFile,
    );
    const issued = await readTlsSecret(kc, release.namespace, `${release.fullname}-tls`);
    const corporate = await readTlsSecret(kc, "kube-system", ca);
    expect(issued.ca.fingerprint256).toBe(corporate.cert.fingerprint256);
    expect(issued.cert.checkIssued(corporate.cert)).toBe(true);
  });

  it("gets the user's CA injected into both webhook configurations", async () => {
    const issued = await readTlsSecret(kc, release.namespace, `${release.fullname}-tls`);
    await waitForInjectedCa(kc, release.fullname, issued.caPem);
  });
});
