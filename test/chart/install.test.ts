// The chart installed with helm into the real control plane the way a user installs it, with cert-manager (its
// real controllers and cainjector, run out of cluster): its objects exist and admit a restricted pod,
// cert-manager issues the webhook's certificate and injects its CA, the apiserver sends only opted-in
// Deployments to the webhook and keeps doing so across a `helm upgrade` that reissues the certificate, its
// RBAC lets the watcher do its whole job and no more, and uninstalling it leaves only what cert-manager keeps.
// The chart's pods are kwok's (no containers run): the webhook and watcher run as local processes from the
// release's ConfigMap, TLS Secret and environment, the watcher with a token of the release's ServiceAccount.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  EventsV1Api,
  type V1Deployment,
  type V1Node,
} from "@kubernetes/client-node";
import { parse as parseToml } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REQUIRED_ACCESS } from "../../cli/doctor.ts";
import { Annotation, COMPUTE_LABEL, EventReason } from "../../core/contract.ts";
import { buildEventBridgeEvent } from "../../watcher/sqs/eventBuilder.ts";
import { statusCodeOf } from "../../harness/cluster/api-errors.ts";
import { testKubeConfig } from "../support/testCluster.ts";
import { createNamespace, deleteNamespace } from "../../harness/cluster/namespace.ts";
import { addOnDemandNodes, addSpotNodes, instanceIdOf, terminateNode } from "../../harness/cluster/nodes.ts";
import { clusterDir } from "../../harness/cluster/paths.ts";
import { waitFor } from "../../harness/cluster/wait.ts";
import { waitForAvailable } from "../support/deployments.ts";
import { optedInApp } from "../support/workloads.ts";
import { fargateProfiles } from "../../harness/fargate/profile-store.ts";
import { startSqsEmulator, type SqsEmulator } from "../../harness/sqs/emulator.ts";
import { freePort, type OrchestratorProcess } from "../../harness/stack/process.ts";
import { metricValue } from "../../harness/stack/stack.ts";
import {
  caBundles,
  injectCaFromAnnotation,
  readTlsSecret,
  startCertManager,
  subjectAltNames,
  waitForInjectedCa,
  waitForReady,
  type TlsSecret,
} from "./install/cert-manager.ts";
import { applyPrerequisiteCrds } from "./install/crds.ts";
import {
  chartPod,
  presentedCertificate,
  runChartDoctor,
  startChartWatcher,
  startChartWebhook,
  syncTlsFiles,
  type ChartPod,
  type RunningProcess,
} from "./install/orchestrator.ts";
import {
  installRelease,
  labelledObjects,
  liveObjects,
  objectRef,
  releaseManifests,
  uninstallRelease,
  upgradeRelease,
  type Release,
} from "./install/release.ts";
import { serviceAccountKubeconfig } from "./install/service-account.ts";
import { defaultReleaseKinds, one, type KubeObject } from "./helm.ts";

const kc = testKubeConfig();
const apps = kc.makeApiClient(AppsV1Api);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);

const suffix = randomBytes(3).toString("hex");
const pool = `chart-${suffix}`;
const release: Release = {
  name: `sfo-${suffix}`,
  namespace: "",
  fullname: `sfo-${suffix}-spot-fargate-orchestrator`,
};
const podName = `${release.fullname}-local`;
const scratch = mkdtempSync(join(tmpdir(), "sfo-chart-install-"));
const logDir = join(clusterDir, "logs", `chart-install-${suffix}`);

let workloadNs = "";
let nodes: V1Node[] = [];
let sqs: SqsEmulator | undefined;
let queueUrl = "";
let webhookPort = 0;
let manifests: KubeObject[] = [];
let pod: ChartPod;
let serviceAccount: Awaited<ReturnType<typeof serviceAccountKubeconfig>>;
let webhook: RunningProcess | undefined;
let watcher: RunningProcess | undefined;
let doctor: { code: number; output: string };
let uninstalled = false;
let certManager: OrchestratorProcess | undefined;
let values: Record<string, unknown> = {};
let issued: TlsSecret;

beforeAll(async () => {
  // The release's namespace enforces the restricted Pod Security Standard the chart's pods claim to meet.
  release.namespace = await createNamespace(kc, "chart-install", {
    "pod-security.kubernetes.io/enforce": "restricted",
  });
  workloadNs = await createNamespace(kc, "chart-workload");
  const [spot, onDemand] = await Promise.all([
    addSpotNodes(kc, 1, { nodegroup: pool }),
    addOnDemandNodes(kc, 1, { nodegroup: pool }),
  ]);
  nodes = [...spot, ...onDemand];
  await fargateProfiles(kc).add({
    name: `fp-${workloadNs}`,
    selectors: [{ namespace: workloadNs, labels: { "compute-type": "fargate" } }],
  });
  await applyPrerequisiteCrds();
  sqs = await startSqsEmulator();
  queueUrl = await sqs.createQueue(`interruptions-${suffix}`, { VisibilityTimeout: "30" });
  webhookPort = await freePort();

  certManager = startCertManager(logDir);

  values = {
    // Keeps the release's pods on this test's own on-demand node of a shared cluster.
    nodeSelector: { "eks.amazonaws.com/nodegroup": pool },
    webhook: {
      // The apiserver reaches the local webhook process by this URL, and checks its certificate's IP SAN.
      url: `https://127.0.0.1:${webhookPort}`,
      tls: { ipAddresses: ["127.0.0.1"] },
      // A webhook that cannot be reached fails the test's writes instead of letting them through unseen.
      failurePolicy: { mutating: "Fail", validating: "Fail" },
    },
    serviceMonitor: { enabled: true },
    // The apiserver checks the rules against the Prometheus Operator's CRD schema.
    prometheusRule: { enabled: true },
    grafanaDashboard: { enabled: true },
    config: {
      // Only this test's namespace reaches the webhook and the watcher, whatever else shares the cluster.
      kubernetes: { namespace: [workloadNs] },
      monitoring: { check_interval: "1s" },
      migration: { verification_delay: "1s" },
      aws: {
        region: "us-east-1",
        sqs_queue_url: queueUrl,
        sqs_endpoint_url: sqs.endpoint,
        receive_wait_time: "2s",
      },
    },
  };
  await installRelease(release, values, scratch);
  manifests = await releaseManifests(release);
}, 90_000);

afterAll(async () => {
  await Promise.all([watcher?.process.stop(5_000), webhook?.process.stop(5_000)]);
  if (!uninstalled && release.namespace) await uninstallRelease(release).catch(() => undefined);
  if (release.namespace) await deleteNamespace(kc, release.namespace);
  if (workloadNs) {
    await deleteNamespace(kc, workloadNs);
    await fargateProfiles(kc).remove(`fp-${workloadNs}`);
  }
  await Promise.all(nodes.map((n) => terminateNode(kc, n.metadata?.name ?? "")));
  await sqs?.stop();
  await certManager?.stop(10_000);
}, 60_000);

const webhookRequests = async (endpoint: "mutate" | "validate"): Promise<number> => {
  const res = await fetch(`http://127.0.0.1:${webhook?.healthPort}/metrics`);
  return metricValue(await res.text(), "spot_orchestrator_webhook_requests_total", { endpoint });
};

async function sendToQueue(body: unknown): Promise<void> {
  const client = sqs!.client();
  try {
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(body) }));
  } finally {
    client.destroy();
  }
}

function deployment(name: string, annotations: Record<string, string>): V1Deployment {
  const app = optedInApp(name, 0, { "eks.amazonaws.com/nodegroup": pool });
  app.metadata = { name, annotations };
  return app;
}

/** The leader Lease's name, from the rendered config.toml. */
const leaseName = (): string =>
  (parseToml(readFileSync(pod.configFile, "utf8")) as { watcher: { lease_name: string } }).watcher.lease_name;

async function expectForbidden(what: string, call: () => Promise<unknown>): Promise<void> {
  const outcome = await call().then(
    () => "allowed",
    (err: unknown) => statusCodeOf(err) ?? err,
  );
  expect(outcome, what).toBe(403);
}

describe("the chart installed with helm", () => {
  it("creates every object of the release, and its pods meet the restricted Pod Security Standard", async () => {
    const kinds = manifests.map((o) => o.kind).sort();
    expect(kinds).toEqual([...defaultReleaseKinds, "ServiceMonitor", "PrometheusRule", "ConfigMap"].sort());
    expect((await liveObjects(manifests, scratch)).sort()).toEqual(manifests.map(objectRef).sort());

    await waitForAvailable(kc, release.namespace, release.fullname, 2, { timeoutMs: 30_000 });
    const deployed = await apps.readNamespacedDeployment({
      namespace: release.namespace,
      name: release.fullname,
    });
    expect(deployed.spec?.template.spec?.serviceAccountName).toBe(release.fullname);
  });

  it("gets its Issuers and Certificates Ready from cert-manager", async () => {
    const certManagerObjects = manifests.filter((o) => o.kind === "Issuer" || o.kind === "Certificate");
    expect(certManagerObjects.map(objectRef).sort()).toEqual(
      [
        `Certificate ${release.namespace}/${release.fullname}-ca`,
        `Certificate ${release.namespace}/${release.fullname}-serving`,
        `Issuer ${release.namespace}/${release.fullname}-ca`,
        `Issuer ${release.namespace}/${release.fullname}-selfsigned`,
      ].sort(),
    );
    for (const object of certManagerObjects) {
      const kind = object.kind as "Issuer" | "Certificate";
      await waitForReady(kc, kind, object.metadata.name, release.namespace, certManager?.logFile);
    }
  });

  it("has the serving certificate issued by the chart's CA for the webhook Service's DNS names", async () => {
    issued = await readTlsSecret(kc, release.namespace, `${release.fullname}-tls`);
    const service = one(manifests, "Service").metadata.name;
    const ns = release.namespace;
    expect(subjectAltNames(issued.cert).sort()).toEqual(
      [
        `DNS:${service}`,
        `DNS:${service}.${ns}`,
        `DNS:${service}.${ns}.svc`,
        `DNS:${service}.${ns}.svc.cluster.local`,
        "IP Address:127.0.0.1",
      ].sort(),
    );
    expect(issued.cert.checkIssued(issued.ca)).toBe(true);
    expect(issued.cert.verify(issued.ca.publicKey)).toBe(true);
    expect(issued.ca.subject).toBe(`CN=${release.fullname}-ca`);
    expect(issued.ca.ca).toBe(true);
  });

  it("has the cainjector put the Secret's ca.crt into both webhook configurations", async () => {
    const mutating = await admission.readMutatingWebhookConfiguration({ name: release.fullname });
    expect(mutating.metadata?.annotations?.[injectCaFromAnnotation]).toBe(
      `${release.namespace}/${release.fullname}-serving`,
    );
    await waitForInjectedCa(kc, release.fullname, issued.caPem);
    const validating = await admission.readValidatingWebhookConfiguration({ name: release.fullname });
    expect(validating.metadata?.annotations?.[injectCaFromAnnotation]).toBe(
      `${release.namespace}/${release.fullname}-serving`,
    );
    const webhooks = [
      ...(await admission.readMutatingWebhookConfiguration({ name: release.fullname })).webhooks!,
      ...validating.webhooks!,
    ];
    expect(webhooks.map((w) => w.clientConfig.url)).toEqual([
      `https://127.0.0.1:${webhookPort}/mutate`,
      `https://127.0.0.1:${webhookPort}/validate`,
    ]);
  });

  it("serves its webhook with that certificate, valid for the Service's name under the injected CA", async () => {
    pod = await chartPod(kc, release, scratch);
    webhook = await startChartWebhook(pod, release, { port: webhookPort, logDir, podName });
    const service = one(manifests, "Service").metadata.name;
    // What the apiserver checks when it calls a webhook through its Service: the name <service>.<namespace>.svc.
    const presented = await presentedCertificate(
      webhookPort,
      `${service}.${release.namespace}.svc`,
      issued.caPem,
    );
    expect(presented.fingerprint256).toBe(issued.cert.fingerprint256);
  });

  it("gets only opted-in Deployments outside its own namespace from the apiserver, and patches them", async () => {
    const optedIn = { [Annotation.enabled]: "true", [Annotation.compute]: "fargate" };
    const requests = async () => ({
      mutate: await webhookRequests("mutate"),
      validate: await webhookRequests("validate"),
    });
    const before = await requests();
    const plain = await apps.createNamespacedDeployment({
      namespace: workloadNs,
      body: deployment("plain", {}),
    });
    const own = await apps.createNamespacedDeployment({
      namespace: release.namespace,
      body: deployment("own", optedIn),
    });
    for (const unsent of [plain, own]) {
      expect(unsent.spec?.template.metadata?.labels?.["compute-type"]).toBeUndefined();
    }
    expect(await requests()).toEqual(before);

    const forced = await apps.createNamespacedDeployment({
      namespace: workloadNs,
      body: deployment("forced", optedIn),
    });
    expect(forced.spec?.template.metadata?.labels?.["compute-type"]).toBe("fargate");
    expect(forced.metadata?.labels?.[COMPUTE_LABEL]).toBe("fargate");
    expect(forced.metadata?.annotations?.[Annotation.reason]).toBe("manual");
    const after = await requests();
    expect(after.mutate).toBeGreaterThan(before.mutate);
    expect(after.validate).toBeGreaterThan(before.validate);
  });

  it("has cert-manager reissue the certificate on a helm upgrade that changes it, and keeps the caBundle", async () => {
    const extraName = `orchestrator-${suffix}.example.internal`;
    const webhookValues = values["webhook"] as Record<string, unknown>;
    values = {
      ...values,
      webhook: { ...webhookValues, tls: { ipAddresses: ["127.0.0.1"], extraDnsNames: [extraName] } },
    };
    await upgradeRelease(release, values, scratch);

    const reissued = await waitFor(
      `Secret ${release.fullname}-tls reissued with DNS:${extraName} (cert-manager log: ${certManager?.logFile})`,
      async () => {
        const secret = await readTlsSecret(kc, release.namespace, `${release.fullname}-tls`);
        return subjectAltNames(secret.cert).includes(`DNS:${extraName}`) ? secret : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(reissued.cert.fingerprint256).not.toBe(issued.cert.fingerprint256);
    expect(reissued.caPem).toBe(issued.caPem);
    await waitForReady(
      kc,
      "Certificate",
      `${release.fullname}-serving`,
      release.namespace,
      certManager?.logFile,
    );
    const expected = Buffer.from(issued.caPem).toString("base64");
    expect(await caBundles(kc, release.fullname)).toEqual([expected, expected]);

    // The kubelet updates the mounted Secret; the webhook picks the new certificate up without a restart.
    await syncTlsFiles(kc, pod);
    await waitFor(
      `the webhook to serve the reissued certificate (log: ${webhook?.process.logFile})`,
      async () =>
        (await presentedCertificate(webhookPort, extraName, issued.caPem)).fingerprint256 ===
        reissued.cert.fingerprint256,
      { timeoutMs: 30_000 },
    );
    const before = await webhookRequests("mutate");
    const forced = await apps.createNamespacedDeployment({
      namespace: workloadNs,
      body: deployment("after-upgrade", { [Annotation.enabled]: "true", [Annotation.compute]: "fargate" }),
    });
    expect(forced.spec?.template.metadata?.labels?.["compute-type"]).toBe("fargate");
    expect(await webhookRequests("mutate")).toBeGreaterThan(before);
    issued = reissued;
  });

  it("lets the watcher, as the release's ServiceAccount, lead and move a workload off an interrupted spot node", async () => {
    serviceAccount = await serviceAccountKubeconfig(kc, release.namespace, pod.serviceAccount, scratch);
    const username = `system:serviceaccount:${release.namespace}:${release.fullname}`;
    const whoami = await serviceAccount.kc
      .makeApiClient(AuthenticationV1Api)
      .createSelfSubjectReview({ body: {} });
    expect(whoami.status?.userInfo?.username).toBe(username);
    // The webhook keeps the watcher's `reason` only for the username the chart passes it.
    expect(pod.env["webhook"]?.["ORCHESTRATOR_USERNAME"]).toBe(username);

    watcher = await startChartWatcher(pod, release, { kubeconfig: serviceAccount.path, logDir, podName });
    const leases = kc.makeApiClient(CoordinationV1Api);
    await waitFor(
      `Lease ${release.namespace}/${leaseName()} held by ${podName} (log: ${watcher.process.logFile})`,
      async () => {
        const lease = await leases.readNamespacedLease({
          namespace: release.namespace,
          name: leaseName(),
        });
        return lease.spec?.holderIdentity === podName;
      },
      { timeoutMs: 20_000 },
    );

    const spotNode = nodes[0]!;
    const web = optedInApp("web", 1, { "kubernetes.io/hostname": spotNode.metadata!.name! });
    await apps.createNamespacedDeployment({ namespace: workloadNs, body: web });
    await waitForAvailable(kc, workloadNs, "web", 1, { timeoutMs: 30_000 });

    await sendToQueue(
      buildEventBridgeEvent({
        kind: "spot-interruption",
        instanceId: instanceIdOf(spotNode),
        region: "eu-west-1",
      }),
    );
    const moved = await waitFor(
      `web moved to fargate and healthy (log: ${watcher.process.logFile})`,
      async () => {
        const d = await apps.readNamespacedDeployment({ namespace: workloadNs, name: "web" });
        const rollout = d.metadata?.annotations?.[Annotation.rollout];
        if (rollout?.startsWith("failed")) throw new Error(`web: rollout ${rollout}`);
        return rollout === "healthy" ? d : undefined;
      },
      { timeoutMs: 45_000 },
    );
    const annotations = moved.metadata?.annotations ?? {};
    expect(annotations[Annotation.compute]).toBe("fargate");
    expect(annotations[Annotation.reason]).toBe("spot-interruption");
    expect(annotations[Annotation.changedBy]).toBe(username);
    expect(moved.spec?.template.metadata?.labels?.["compute-type"]).toBe("fargate");

    const reasons = (await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: workloadNs })).items
      .filter((e) => e.regarding?.name === "web")
      .map((e) => e.reason);
    expect(reasons).toEqual(
      expect.arrayContaining([EventReason.migratingToFargate, EventReason.migratedToFargate]),
    );

    const log = readFileSync(watcher.process.logFile, "utf8");
    expect(log.split("\n").filter((line) => /forbidden|"(status)?code":403/i.test(line))).toEqual([]);
  });

  it("passes doctor's checks of the permissions the watcher needs across the cluster", async () => {
    doctor = await runChartDoctor(pod, release, { kubeconfig: serviceAccount.path, podName });
    const permissions = doctor.output.split("\n").filter((line) => /^\[.{4}\] may /.test(line));
    expect(permissions, doctor.output).toHaveLength(REQUIRED_ACCESS.length + 1);
    const clusterWide = permissions.filter((line) => !line.includes(" in "));
    expect(clusterWide).toHaveLength(REQUIRED_ACCESS.length);
    expect(clusterWide.filter((line) => !line.startsWith("[ok  ]"))).toEqual([]);
    expect(doctor.output).toMatch(/^\[ok {2}\] configuration$/m);
    expect(doctor.output).toMatch(/^\[(ok {2}|warn)\] SQS queue reachable/m);

    const review = await serviceAccount.kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
      body: {
        spec: {
          resourceAttributes: {
            group: "coordination.k8s.io",
            resource: "leases",
            verb: "update",
            namespace: release.namespace,
            name: leaseName(),
          },
        },
      },
    });
    expect(review.status?.allowed).toBe(true);
  });

  // The chart grants `update` on the watcher's own Lease only (resourceNames), and doctor asks about that one.
  it("passes doctor's check of the leader Lease, and doctor exits 0", () => {
    const lease = doctor.output.split("\n").find((line) => line.includes(" may update leases."));
    expect(lease).toMatch(/^\[ok {2}\]/);
    expect(doctor.code, doctor.output).toBe(0);
  });

  it("grants the ServiceAccount nothing beyond what the orchestrator does", async () => {
    const asServiceAccount = serviceAccount.kc;
    const core = asServiceAccount.makeApiClient(CoreV1Api);
    await expectForbidden("list Secrets", () => core.listNamespacedSecret({ namespace: release.namespace }));
    await expectForbidden("create pods", () =>
      core.createNamespacedPod({
        namespace: workloadNs,
        body: { metadata: { name: "intruder" }, spec: { containers: [{ name: "c", image: "busybox" }] } },
      }),
    );
    await expectForbidden("delete a Deployment", () =>
      asServiceAccount
        .makeApiClient(AppsV1Api)
        .deleteNamespacedDeployment({ namespace: workloadNs, name: "plain" }),
    );
    await expectForbidden("update another Lease", () =>
      asServiceAccount.makeApiClient(CoordinationV1Api).replaceNamespacedLease({
        namespace: release.namespace,
        name: "someone-else",
        body: { metadata: { name: "someone-else" }, spec: {} },
      }),
    );
  });

  it("leaves nothing of the release behind when uninstalled but the Secrets cert-manager keeps", async () => {
    await Promise.all([watcher?.process.stop(5_000), webhook?.process.stop(5_000)]);
    await uninstallRelease(release);
    uninstalled = true;
    expect(await liveObjects(manifests, scratch)).toEqual([]);
    expect(await labelledObjects(release)).toEqual([]);
    // cert-manager leaves a deleted Certificate's Secret in place (unless --enable-certificate-owner-ref)
    const secrets = await kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: release.namespace });
    expect(secrets.items.map((secret) => secret.metadata?.name).sort()).toEqual([
      `${release.fullname}-ca`,
      `${release.fullname}-tls`,
    ]);
  });
});
