// The Helm chart, rendered with `helm template` the way a user installs it: lint, Kubernetes schemas,
// and what each value does to the manifests.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config.ts";
import { Annotation } from "../../core/contract.ts";
import { SETTINGS } from "../../core/settings.ts";
import { accessList } from "../../watcher/apiCalls.ts";
import { orchestratorMatchConditions } from "../../harness/cluster/match-conditions.ts";
import {
  chartDir,
  defaultReleaseKinds,
  helm,
  kinds,
  kubeVersion,
  one,
  releaseNamespace,
  render,
  templateArgs,
  type KubeObject,
} from "./helm.ts";
import { apiserverChecks, KubeSchemas, openApiDir } from "./kube-schema.ts";
import { valueSets } from "./valueSets.ts";

const fullname = "sfo-spot-fargate-orchestrator";
const serviceAccount = `system:serviceaccount:${releaseNamespace}:${fullname}`;

interface Container {
  name: string;
  image: string;
  args: string[];
  env: { name: string; value?: string; valueFrom?: Record<string, Record<string, string>> }[];
  ports: { name: string; containerPort: number }[];
  securityContext: Record<string, unknown>;
  volumeMounts: { name: string; mountPath: string }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
}
interface PodSpec {
  containers: Container[];
  volumes: {
    name: string;
    emptyDir?: object;
    configMap?: { name: string };
    secret?: { secretName: string };
  }[];
  securityContext: Record<string, unknown>;
  serviceAccountName: string;
  priorityClassName?: string;
  affinity: Record<string, unknown>;
  topologySpreadConstraints: unknown[];
  nodeSelector?: Record<string, string>;
}
interface Webhook {
  name: string;
  clientConfig: {
    url?: string;
    service?: { name: string; namespace: string; path: string; port: number };
    caBundle?: string;
  };
  rules: { apiGroups: string[]; apiVersions: string[]; resources: string[]; operations: string[] }[];
  failurePolicy: string;
  sideEffects: string;
  timeoutSeconds: number;
  matchPolicy: string;
  reinvocationPolicy?: string;
  admissionReviewVersions: string[];
  namespaceSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
  matchConditions: { name: string; expression: string }[];
}

const deploymentOf = (objects: KubeObject[]) =>
  one(objects, "Deployment") as KubeObject & {
    spec: {
      replicas: number;
      selector: { matchLabels: Record<string, string> };
      template: { metadata: { annotations: Record<string, string> }; spec: PodSpec };
    };
  };
const podSpecOf = (objects: KubeObject[]) => deploymentOf(objects).spec.template.spec;
const container = (objects: KubeObject[], name: string) => {
  const found = podSpecOf(objects).containers.find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
};
const webhooksOf = (objects: KubeObject[], kind: string) =>
  (one(objects, kind) as KubeObject & { webhooks: Webhook[] }).webhooks;
const configToml = (objects: KubeObject[]) =>
  (one(objects, "ConfigMap") as KubeObject & { data: Record<string, string> }).data["config.toml"]!;

describe("chart", () => {
  let schemas: KubeSchemas;
  let defaults: KubeObject[];

  beforeAll(async () => {
    schemas = new KubeSchemas(openApiDir(kubeVersion));
    defaults = await render();
  });

  it("passes helm lint --strict", async () => {
    const result = await helm(["lint", "--strict", "--kube-version", kubeVersion, chartDir]);
    expect(result.stderr + result.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
    expect(result.code).toBe(0);
  });

  it.each(Object.entries(valueSets))("renders manifests valid for Kubernetes %s", async (_name, values) => {
    const objects = await render(values);
    const problems: string[] = [];
    for (const object of objects) {
      const found = schemas.knows(object.apiVersion, object.kind)
        ? [...schemas.validate(object), ...apiserverChecks(object)]
        : customResourceProblems(object, objects);
      problems.push(...found.map((p) => `${object.kind}/${object.metadata.name}: ${p}`));
    }
    expect(problems).toEqual([]);
    expect(kinds(objects).length).toBeGreaterThan(8);
  });

  it("renders the default release", () => {
    expect(kinds(defaults)).toEqual(defaultReleaseKinds);
    for (const object of defaults) {
      expect(object.metadata.labels).toMatchObject({
        "app.kubernetes.io/name": "spot-fargate-orchestrator",
        "app.kubernetes.io/instance": "sfo",
        "app.kubernetes.io/version": "0.1.0",
        "app.kubernetes.io/managed-by": "Helm",
        "helm.sh/chart": "spot-fargate-orchestrator-0.1.0",
      });
    }
  });

  it("runs the webhook and the watcher from one image in two replicas", () => {
    const deployment = deploymentOf(defaults);
    expect(deployment.spec.replicas).toBe(2);
    const spec = podSpecOf(defaults);
    expect(spec.containers.map((c) => c.name)).toEqual(["webhook", "watcher"]);
    expect(new Set(spec.containers.map((c) => c.image))).toEqual(
      new Set(["spot-fargate-orchestrator:0.1.0"]),
    );
    expect(container(defaults, "webhook").args).toEqual([
      "webhook",
      "--config",
      "/etc/spot-orchestrator/config.toml",
    ]);
    expect(container(defaults, "watcher").args).toEqual([
      "watcher",
      "--config",
      "/etc/spot-orchestrator/config.toml",
    ]);
    expect(spec.serviceAccountName).toBe(fullname);
    expect(spec.priorityClassName).toBeUndefined();
    expect(one(defaults, "PodDisruptionBudget").spec).toMatchObject({ minAvailable: 1 });
  });

  it("passes the pod's identity and the orchestrator's username", () => {
    for (const name of ["webhook", "watcher"]) {
      const env = container(defaults, name).env;
      expect(env).toContainEqual({
        name: "POD_NAMESPACE",
        valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } },
      });
      expect(env).toContainEqual({
        name: "POD_NAME",
        valueFrom: { fieldRef: { fieldPath: "metadata.name" } },
      });
      expect(env).toContainEqual({ name: "ORCHESTRATOR_USERNAME", value: serviceAccount });
      expect(env.map((e) => e.name)).not.toContain("SLACK_WEBHOOK_URL");
    }
  });

  it("runs restricted: non-root, read-only root, no privileges, a writable /tmp only", () => {
    const spec = podSpecOf(defaults);
    expect(spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    for (const c of spec.containers) {
      expect(c.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      const tmp = c.volumeMounts.find((m) => m.mountPath === "/tmp");
      expect(spec.volumes.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
    }
  });

  it("probes both processes on their health ports", () => {
    const ports = (c: Container) => Object.fromEntries(c.ports.map((p) => [p.name, p.containerPort]));
    const webhook = container(defaults, "webhook");
    const watcher = container(defaults, "watcher");
    expect(ports(webhook)).toEqual({ https: 9443, "webhook-health": 8080 });
    expect(ports(watcher)).toEqual({ "watcher-health": 8081 });
    expect(webhook.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "webhook-health" });
    expect(webhook.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "webhook-health" });
    expect(watcher.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "watcher-health" });
    expect(watcher.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "watcher-health" });
    const service = one(defaults, "Service").spec as {
      ports: { name: string; port: number; targetPort: string }[];
    };
    expect(service.ports).toContainEqual({ name: "https", port: 443, targetPort: "https", protocol: "TCP" });
  });

  it("keeps its own pods off spot capacity and spreads them", () => {
    const spec = podSpecOf(defaults);
    expect(spec.affinity).toMatchObject({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: "eks.amazonaws.com/capacityType", operator: "NotIn", values: ["SPOT"] },
                { key: "karpenter.sh/capacity-type", operator: "NotIn", values: ["spot"] },
              ],
            },
          ],
        },
      },
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { podAffinityTerm: { topologyKey: "kubernetes.io/hostname" } },
        ],
      },
    });
    expect(spec.topologySpreadConstraints).toMatchObject([{ topologyKey: "topology.kubernetes.io/zone" }]);
  });

  // The calls the watcher makes (its call list, which a unit test reads out of its source) and what the
  // chart grants are the same set: nothing missing, nothing more.
  it("grants the watcher's API calls and nothing more", () => {
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
    const rules = (kind: string) => (one(defaults, kind) as KubeObject & { rules: Rule[] }).rules;
    const granted = (kind: string, named: boolean) =>
      rules(kind)
        .filter((r) => (r.resourceNames !== undefined) === named)
        .flatMap((r) =>
          r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}/${v}`))),
        )
        .sort();
    const calls = (scope: "cluster" | "lease") =>
      accessList(scope)
        .map((a) => a.join("/"))
        .sort();
    expect(granted("ClusterRole", false)).toEqual(calls("cluster"));
    expect(granted("ClusterRole", true)).toEqual([]);
    const role = one(defaults, "Role");
    expect(role.metadata.namespace).toBe(releaseNamespace);
    // `create` cannot be limited to a name; everything else is limited to the watcher's own Lease
    const leaseCalls = calls("lease");
    expect([...granted("Role", false), ...granted("Role", true)].sort()).toEqual(leaseCalls);
    expect(granted("Role", false)).toEqual(["coordination.k8s.io/leases/create"]);
    expect(rules("Role").find((r) => r.resourceNames)?.resourceNames).toEqual(["spot-fargate-orchestrator"]);
    for (const kind of ["ClusterRoleBinding", "RoleBinding"]) {
      expect(one(defaults, kind).subjects).toEqual([
        { kind: "ServiceAccount", name: fullname, namespace: releaseNamespace },
      ]);
    }
  });

  it("sends only opted-in Deployments to the webhooks, never its own or system namespaces", () => {
    const mutating = webhooksOf(defaults, "MutatingWebhookConfiguration");
    const validating = webhooksOf(defaults, "ValidatingWebhookConfiguration");
    expect(mutating).toHaveLength(1);
    expect(validating).toHaveLength(1);
    for (const [webhook, path] of [
      [mutating[0]!, "/mutate"],
      [validating[0]!, "/validate"],
    ] as const) {
      expect(webhook).toMatchObject({
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        timeoutSeconds: 5,
        matchPolicy: "Equivalent",
        failurePolicy: "Ignore",
        clientConfig: { service: { name: fullname, namespace: releaseNamespace, path, port: 443 } },
        rules: [
          {
            apiGroups: ["apps"],
            apiVersions: ["v1"],
            resources: ["deployments"],
            operations: ["CREATE", "UPDATE"],
          },
        ],
      });
      expect(webhook.clientConfig.caBundle).toBeUndefined();
      expect(webhook.namespaceSelector.matchExpressions).toEqual([
        {
          key: "kubernetes.io/metadata.name",
          operator: "NotIn",
          values: ["kube-system", "kube-node-lease", releaseNamespace],
        },
      ]);
      // every Deployment carrying an orchestrator annotation, before or after the change, the same
      // condition the tests register the webhook with
      expect(webhook.matchConditions).toEqual(orchestratorMatchConditions());
    }
    expect(mutating[0]!.reinvocationPolicy).toBe("IfNeeded");
    expect(validating[0]!.reinvocationPolicy).toBeUndefined();
  });

  it("has cert-manager issue the serving certificate and inject its CA", () => {
    const certificates = defaults.filter((o) => o.kind === "Certificate") as (KubeObject & {
      spec: Record<string, unknown>;
    })[];
    const ca = certificates.find((c) => c.spec.isCA === true)!;
    const serving = certificates.find((c) => c.spec.isCA !== true)!;
    expect(ca.spec.issuerRef).toMatchObject({ name: `${fullname}-selfsigned`, kind: "Issuer" });
    expect(one(defaults, "Issuer", `${fullname}-selfsigned`).spec).toEqual({ selfSigned: {} });
    expect(one(defaults, "Issuer", `${fullname}-ca`).spec).toEqual({
      ca: { secretName: ca.spec.secretName },
    });
    expect(serving.spec.issuerRef).toMatchObject({ name: `${fullname}-ca`, kind: "Issuer" });
    expect(serving.spec.dnsNames).toContain(`${fullname}.${releaseNamespace}.svc`);
    expect(serving.spec.secretName).toBe(`${fullname}-tls`);
    for (const kind of ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]) {
      expect(one(defaults, kind).metadata.annotations).toEqual({
        "cert-manager.io/inject-ca-from": `${releaseNamespace}/${serving.metadata.name}`,
      });
    }
    const tls = podSpecOf(defaults).volumes.find((v) => v.name === "tls");
    expect(tls?.secret?.secretName).toBe(serving.spec.secretName);
  });

  it("generates a CA and serving certificate with Helm when cert-manager is off", async () => {
    const objects = await render({ certManager: { enabled: false } });
    expect(kinds(objects)).not.toContain("Certificate");
    expect(kinds(objects)).not.toContain("Issuer");
    const secret = one(objects, "Secret", `${fullname}-tls`) as KubeObject & {
      type: string;
      data: Record<string, string>;
    };
    expect(secret.type).toBe("kubernetes.io/tls");
    expect(Object.keys(secret.data).sort()).toEqual(["ca.crt", "tls.crt", "tls.key"]);
    const ca = new X509Certificate(Buffer.from(secret.data["ca.crt"]!, "base64"));
    const cert = new X509Certificate(Buffer.from(secret.data["tls.crt"]!, "base64"));
    expect(ca.ca).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.subjectAltName).toContain(`DNS:${fullname}.${releaseNamespace}.svc`);
    for (const kind of ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]) {
      expect(one(objects, kind).metadata.annotations).toBeUndefined();
      expect(webhooksOf(objects, kind)[0]!.clientConfig.caBundle).toBe(secret.data["ca.crt"]);
    }
  });

  it("points the webhooks at webhook.url, with the certificate covering its address", async () => {
    const objects = await render({
      certManager: { enabled: false },
      webhook: { url: "https://127.0.0.1:19443/", tls: { ipAddresses: ["127.0.0.1"] } },
    });
    expect(webhooksOf(objects, "MutatingWebhookConfiguration")[0]!.clientConfig).toMatchObject({
      url: "https://127.0.0.1:19443/mutate",
    });
    expect(webhooksOf(objects, "ValidatingWebhookConfiguration")[0]!.clientConfig).toMatchObject({
      url: "https://127.0.0.1:19443/validate",
    });
    expect(webhooksOf(objects, "MutatingWebhookConfiguration")[0]!.clientConfig.service).toBeUndefined();
    const secret = one(objects, "Secret") as KubeObject & { data: Record<string, string> };
    const cert = new X509Certificate(Buffer.from(secret.data["tls.crt"]!, "base64"));
    expect(cert.subjectAltName).toContain("IP Address:127.0.0.1");

    const given = Buffer.from("-----BEGIN CERTIFICATE-----\n...\n").toString("base64");
    const withBundle = await render({ webhook: { url: "https://127.0.0.1:19443", caBundle: given } });
    expect(webhooksOf(withBundle, "MutatingWebhookConfiguration")[0]!.clientConfig.caBundle).toBe(given);
    expect(one(withBundle, "MutatingWebhookConfiguration").metadata.annotations).toBeUndefined();
  });

  it("reads the Slack URL from an existing Secret", async () => {
    const objects = await render({ slack: { existingSecret: "team-slack", existingSecretKey: "url" } });
    expect(objects.filter((o) => o.kind === "Secret")).toEqual([]);
    expect(container(objects, "watcher").env).toContainEqual({
      name: "SLACK_WEBHOOK_URL",
      valueFrom: { secretKeyRef: { name: "team-slack", key: "url" } },
    });
    expect(container(objects, "webhook").env.map((e) => e.name)).not.toContain("SLACK_WEBHOOK_URL");
  });

  it("stores a Slack URL given as a value in a Secret of its own", async () => {
    const url = "https://hooks.slack.com/services/T000/B000/XXXX";
    const objects = await render({ slack: { webhookUrl: url } });
    const secret = one(objects, "Secret", `${fullname}-slack`) as KubeObject & {
      data: Record<string, string>;
    };
    expect(Buffer.from(secret.data["webhook-url"]!, "base64").toString()).toBe(url);
    expect(container(objects, "watcher").env).toContainEqual({
      name: "SLACK_WEBHOOK_URL",
      valueFrom: { secretKeyRef: { name: `${fullname}-slack`, key: "webhook-url" } },
    });
    expect(deploymentOf(objects).spec.template.metadata.annotations["checksum/slack"]).toMatch(
      /^[0-9a-f]{64}$/,
    );
  });

  it("has no PodDisruptionBudget with one replica", async () => {
    const objects = await render({ replicaCount: 1 });
    expect(kinds(objects)).not.toContain("PodDisruptionBudget");
    expect(deploymentOf(objects).spec.replicas).toBe(1);
  });

  it("sets priorityClassName only when given", async () => {
    const objects = await render({ priorityClassName: "system-cluster-critical" });
    expect(podSpecOf(objects).priorityClassName).toBe("system-cluster-critical");
  });

  describe("NetworkPolicy", () => {
    interface Rule {
      ports: { port: number; protocol: string }[];
      from?: Record<string, unknown>[];
      to?: Record<string, unknown>[];
    }
    const policyOf = async (values: object) =>
      (
        one(await render(values), "NetworkPolicy") as KubeObject & {
          spec: {
            podSelector: { matchLabels: Record<string, string> };
            policyTypes: string[];
            ingress: Rule[] | null;
            egress: Rule[] | null;
          };
        }
      ).spec;
    const anywhere = [{ ipBlock: { cidr: "0.0.0.0/0" } }];
    const https = (to: Record<string, unknown>[], port = 443) => ({ ports: [{ port, protocol: "TCP" }], to });

    it("is off unless enabled", () => {
      expect(kinds(defaults)).not.toContain("NetworkPolicy");
    });

    it("lets in only the apiserver to the webhook port and scrapers to the metrics ports, and lets out DNS, the Kubernetes API, SQS, STS, the Pod Identity Agent and Auto Scaling", async () => {
      const spec = await policyOf({ networkPolicy: { enabled: true } });
      expect(spec.podSelector.matchLabels).toEqual(deploymentOf(defaults).spec.selector.matchLabels);
      expect(spec.policyTypes).toEqual(["Ingress", "Egress"]);
      expect(spec.ingress).toEqual([
        { ports: [{ port: 9443, protocol: "TCP" }], from: anywhere },
        {
          ports: [
            { port: 8080, protocol: "TCP" },
            { port: 8081, protocol: "TCP" },
          ],
          from: [{ namespaceSelector: {} }],
        },
      ]);
      expect(spec.egress).toEqual([
        {
          ports: [
            { port: 53, protocol: "UDP" },
            { port: 53, protocol: "TCP" },
          ],
          to: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
              podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
            },
          ],
        },
        https(anywhere), // the Kubernetes API
        https(anywhere), // SQS
        https(anywhere), // STS
        https(anywhere), // Auto Scaling
        {
          ports: [{ port: 80, protocol: "TCP" }],
          to: [{ ipBlock: { cidr: "169.254.170.23/32" } }, { ipBlock: { cidr: "fd00:ec2::23/128" } }],
        },
      ]);
    });

    it("follows the ports, CIDRs, selectors and extra rules given, and lets out Slack only with a Slack URL", async () => {
      const spec = await policyOf(valueSets["everything on"]!);
      const vpc = [{ ipBlock: { cidr: "10.0.0.0/16" } }];
      expect(spec.ingress).toEqual([
        { ports: [{ port: 9443, protocol: "TCP" }], from: [...vpc, { ipBlock: { cidr: "10.1.0.0/16" } }] },
        {
          ports: [
            { port: 8080, protocol: "TCP" },
            { port: 8081, protocol: "TCP" },
          ],
          from: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
              podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
            },
          ],
        },
        { from: [{ podSelector: { matchLabels: { app: "debug" } } }] },
      ]);
      // STS has no CIDRs there: no rule
      expect(spec.egress?.slice(1)).toEqual([
        https(vpc, 6443),
        https(vpc),
        https([...vpc, { ipBlock: { cidr: "2600:1f14::/56" } }]),
        https(anywhere), // Slack
        {
          ports: [{ port: 80, protocol: "TCP" }],
          to: [{ ipBlock: { cidr: "169.254.170.23/32" } }, { ipBlock: { cidr: "fd00:ec2::23/128" } }],
        },
        { to: [{ ipBlock: { cidr: "10.2.0.1/32" } }], ports: [{ port: 3128, protocol: "TCP" }] },
      ]);

      const ports = await policyOf({
        networkPolicy: { enabled: true },
        webhook: { port: 10443, healthPort: 9080 },
        watcher: { healthPort: 9081 },
        slack: { existingSecret: "slack" },
      });
      expect(ports.ingress?.map((rule) => rule.ports.map((p) => p.port))).toEqual([[10443], [9080, 9081]]);
      expect(ports.egress).toHaveLength(7);
    });

    it("leaves out every rule whose peers are empty: nothing in or out then", async () => {
      const spec = await policyOf({
        networkPolicy: {
          enabled: true,
          ingress: { webhook: { cidrs: [] }, metrics: { enabled: false } },
          egress: {
            dns: { to: [] },
            kubernetesApi: { cidrs: [] },
            sqs: { cidrs: [] },
            sts: { cidrs: [] },
            podIdentityAgent: { cidrs: [] },
            autoscaling: { cidrs: [] },
          },
        },
      });
      expect(spec.policyTypes).toEqual(["Ingress", "Egress"]);
      expect(spec.ingress ?? []).toEqual([]);
      expect(spec.egress ?? []).toEqual([]);
    });
  });

  it("adds a ServiceMonitor scraping both metrics ports", async () => {
    const objects = await render({ serviceMonitor: { enabled: true } });
    const monitor = one(objects, "ServiceMonitor") as KubeObject & {
      spec: { endpoints: { port: string; path: string }[] };
    };
    expect(monitor.spec.endpoints.map((e) => [e.port, e.path])).toEqual([
      ["webhook-metrics", "/metrics"],
      ["watcher-metrics", "/metrics"],
    ]);
  });

  it("limits the webhooks to config.kubernetes.namespace when set", async () => {
    const objects = await render({ config: { kubernetes: { namespace: ["team-a", "team-b"] } } });
    expect(
      webhooksOf(objects, "MutatingWebhookConfiguration")[0]!.namespaceSelector.matchExpressions,
    ).toContainEqual({
      key: "kubernetes.io/metadata.name",
      operator: "In",
      values: ["team-a", "team-b"],
    });
  });

  it("sends config.kubernetes.deployment_name to the webhooks without the annotation", async () => {
    const objects = await render({ config: { kubernetes: { deployment_name: "web" } } });
    const { matchConditions } = webhooksOf(objects, "MutatingWebhookConfiguration")[0]!;
    expect(matchConditions).toEqual(orchestratorMatchConditions("web"));
  });

  it("names the ServiceAccount the webhook trusts", async () => {
    const objects = await render({ serviceAccount: { name: "orchestrator" } });
    expect(one(objects, "ServiceAccount").metadata.name).toBe("orchestrator");
    expect(container(objects, "webhook").env).toContainEqual({
      name: "ORCHESTRATOR_USERNAME",
      value: `system:serviceaccount:${releaseNamespace}:orchestrator`,
    });
  });

  describe("config.toml", () => {
    const chartOwned: Record<string, string> = {
      "webhook.port": "container port",
      "webhook.health_port": "container port",
      "webhook.tls_cert": "TLS Secret mount",
      "webhook.tls_key": "TLS Secret mount",
      "watcher.health_port": "container port",
      "webhook.orchestrator_username": "ORCHESTRATOR_USERNAME",
      "watcher.lease_namespace": "POD_NAMESPACE",
      "watcher.identity": "POD_NAME",
      "watcher.pod_uid": "POD_UID",
      "alerts.slack_webhook_url": "SLACK_WEBHOOK_URL from a Secret",
    };

    it("offers every setting as a value, except those the chart sets itself", () => {
      const values = parseYaml(readFileSync(join(chartDir, "values.yaml"), "utf8")) as {
        config: Record<string, Record<string, unknown>>;
      };
      const offered = Object.entries(values.config).flatMap(([section, keys]) =>
        Object.keys(keys).map((k) => `${section}.${k}`),
      );
      const expected = SETTINGS.map((s) => s.key).filter((k) => !(k in chartOwned));
      expect(offered.sort()).toEqual(expected.sort());
      const inToml = Object.entries(
        parseToml(configToml(defaults)) as Record<string, Record<string, unknown>>,
      ).flatMap(([section, keys]) => Object.keys(keys).map((k) => `${section}.${k}`));
      const notEnv = Object.keys(chartOwned).filter(
        (k) => chartOwned[k]!.includes("port") || chartOwned[k]!.includes("mount"),
      );
      expect(inToml.sort()).toEqual([...expected, ...notEnv].sort());
    });

    it("loads into the same configuration as the built-in defaults (log format aside)", () => {
      const fromChart = loadToml(configToml(defaults));
      const builtIn = loadConfig({ file: emptyFile(), env: {} });
      expect(fromChart.logging.format).toBe("json");
      expect({ ...fromChart, logging: { ...fromChart.logging, format: "auto" } }).toEqual(builtIn);
    });

    it("turns default-true settings off and passes every kind of value through", async () => {
      const objects = await render({
        config: {
          recovery: { enabled: false },
          alerts: { enabled: false },
          watcher: { leader_election: false },
          kubernetes: { namespace: ["a", "b"], qps: 1000000 },
          compute: {
            // Helm merges maps with their defaults: null removes a default key.
            spot_node_selector: {
              "eks.amazonaws.com/capacityType": null,
              "node.kubernetes.io/lifecycle": "spot",
              "a/b": 'x"y',
            },
            spot_tolerations: ["spot=true:NoSchedule", "dedicated:NoExecute"],
          },
          aws: { sqs_queue_url: "https://sqs.eu-west-1.amazonaws.com/111122223333/q", region: "eu-west-1" },
          migration: { rollout_timeout: "1h30m", dry_run: true },
        },
      });
      const config = loadToml(configToml(objects), "watcher");
      expect(config.recovery.enabled).toBe(false);
      expect(config.alerts.enabled).toBe(false);
      expect(config.watcher.leaderElection).toBe(false);
      expect(config.migration.dryRun).toBe(true);
      expect(config.migration.rolloutTimeout).toBe(90 * 60_000);
      expect(config.kubernetes.namespaces).toEqual(["a", "b"]);
      expect(config.kubernetes.qps).toBe(1000000);
      expect(config.compute.spotNodeSelector).toEqual({
        "node.kubernetes.io/lifecycle": "spot",
        "a/b": 'x"y',
      });
      expect(config.compute.spotTolerations).toEqual([
        { key: "spot", operator: "Equal", value: "true", effect: "NoSchedule" },
        { key: "dedicated", operator: "Exists", effect: "NoExecute" },
      ]);
      expect(config.aws).toMatchObject({
        region: "eu-west-1",
        sqsQueueUrl: "https://sqs.eu-west-1.amazonaws.com/111122223333/q",
      });
    });

    it("rolls the pods when the configuration changes", async () => {
      const checksum = (objects: KubeObject[]) =>
        deploymentOf(objects).spec.template.metadata.annotations["checksum/config"];
      const changed = await render({ config: { logging: { level: "debug" } } });
      expect(checksum(defaults)).toMatch(/^[0-9a-f]{64}$/);
      expect(checksum(changed)).not.toBe(checksum(defaults));
      expect(checksum(await render())).toBe(checksum(defaults));
    });
  });

  describe("values.schema.json", () => {
    it.each([
      ["an unknown log level", { config: { logging: { level: "verbose" } } }, "level"],
      [
        "a NetworkPolicy CIDR that is no CIDR",
        { networkPolicy: { egress: { sqs: { cidrs: ["sqs.eu-west-1.amazonaws.com"] } } } },
        "cidrs",
      ],
      ["a misspelt key", { config: { recovery: { enable: false } } }, "enable"],
      ["an unknown top-level value", { replicas: 2 }, "replicas"],
      ["a bad failure policy", { webhook: { failurePolicy: { validating: "Deny" } } }, "validating"],
      ["a string for a boolean", { certManager: { enabled: "false" } }, "enabled"],
      ["a bad duration", { config: { recovery: { cooldown: "45 minutes" } } }, "cooldown"],
      [
        "a bad toleration",
        { config: { compute: { spot_tolerations: ["spot=true:Sometimes"] } } },
        "spot_tolerations",
      ],
      ["a plain-HTTP webhook URL", { webhook: { url: "http://127.0.0.1:9443" } }, "url"],
    ])("rejects %s", async (_name, values, field) => {
      const result = await helm(templateArgs(values));
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain("values don't meet the specifications of the schema");
      expect(result.stderr).toContain(field);
    });
  });

  it("tells GitOps users to ignore every annotation the orchestrator writes", () => {
    const readme = readFileSync(join(chartDir, "README.md"), "utf8");
    const written = Object.values(Annotation).filter(
      (key) => key !== Annotation.enabled && key !== Annotation.healthPath && key !== Annotation.priority,
    );
    for (const key of written) expect(readme).toContain(`.metadata.annotations["${key}"]`);
  });

  it("documents every value in the README", () => {
    const readme = readFileSync(join(chartDir, "README.md"), "utf8");
    const values = parseYaml(readFileSync(join(chartDir, "values.yaml"), "utf8")) as Record<string, unknown>;
    const missing = leafPaths(values).filter((path) => !readme.includes(`| \`${path}\` |`));
    expect(missing).toEqual([]);
  });
});

function leafPaths(value: unknown, prefix = ""): string[] {
  if (
    value === null ||
    typeof value !== "object" ||
    Array.isArray(value) ||
    Object.keys(value).length === 0
  ) {
    return [prefix];
  }
  // Kubernetes-shaped values are documented as one entry.
  if (
    [
      "podSecurityContext",
      "securityContext",
      "webhook.resources",
      "watcher.resources",
      "config.compute.spot_node_selector",
      "config.compute.on_demand_node_selector",
      "grafanaDashboard.labels",
      // documented alert by alert in the README's Alerts table (alerts.test.ts checks it)
      "prometheusRule.alerts",
    ].includes(prefix)
  ) {
    return [prefix];
  }
  return Object.entries(value).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

let scratch: string | undefined;
function scratchDir(): string {
  scratch ??= mkdtempSync(join(tmpdir(), "sfo-chart-"));
  return scratch;
}

function emptyFile(): string {
  const file = join(scratchDir(), "empty.toml");
  writeFileSync(file, "");
  return file;
}

function loadToml(text: string, process?: "watcher") {
  const file = join(scratchDir(), `config-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(file, text);
  return loadConfig({ file, env: {}, ...(process ? { process } : {}) });
}

/** Custom resources: no apiserver schema here, so the fields the chart relies on are checked by hand. */
function customResourceProblems(object: KubeObject, all: readonly KubeObject[]): string[] {
  const spec = (object.spec ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  const need = (ok: boolean, message: string) => {
    if (!ok) problems.push(message);
  };
  switch (`${object.apiVersion} ${object.kind}`) {
    case "cert-manager.io/v1 Issuer": {
      const types = Object.keys(spec).filter((k) =>
        ["selfSigned", "ca", "acme", "vault", "venafi"].includes(k),
      );
      need(types.length === 1 && Object.keys(spec).length === 1, "an Issuer has exactly one issuer type");
      if (spec.ca)
        need(typeof (spec.ca as { secretName?: unknown }).secretName === "string", "ca.secretName");
      break;
    }
    case "cert-manager.io/v1 Certificate": {
      const issuerRef = spec.issuerRef as { name?: string; kind?: string } | undefined;
      need(typeof spec.secretName === "string", "spec.secretName");
      need(typeof issuerRef?.name === "string", "spec.issuerRef.name");
      need(["Issuer", "ClusterIssuer", undefined].includes(issuerRef?.kind), "spec.issuerRef.kind");
      need(
        Array.isArray(spec.dnsNames) || typeof spec.commonName === "string",
        "spec.dnsNames or commonName",
      );
      for (const field of ["duration", "renewBefore"]) {
        if (field in spec)
          need(/^([0-9]+(ms|s|m|h))+$/.test(String(spec[field])), `spec.${field} is a Go duration`);
      }
      const known = [
        "secretName",
        "issuerRef",
        "dnsNames",
        "ipAddresses",
        "commonName",
        "duration",
        "renewBefore",
        "usages",
        "privateKey",
        "isCA",
      ];
      for (const key of Object.keys(spec)) need(known.includes(key), `spec.${key}: unknown field`);
      break;
    }
    case "monitoring.coreos.com/v1 ServiceMonitor": {
      const service = all.find((o) => o.kind === "Service");
      const servicePorts = ((service?.spec as { ports?: { name: string }[] } | undefined)?.ports ?? []).map(
        (p) => p.name,
      );
      const selector =
        (spec.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {};
      need(
        Object.entries(selector).every(([k, v]) => service?.metadata.labels?.[k] === v),
        "spec.selector matches the Service",
      );
      for (const endpoint of (spec.endpoints as { port?: string }[] | undefined) ?? []) {
        need(servicePorts.includes(endpoint.port ?? ""), `endpoint port ${endpoint.port} is a Service port`);
      }
      break;
    }
    case "monitoring.coreos.com/v1 PrometheusRule": {
      // the real schema is the CRD's, checked by the apiserver in install.test.ts; promtool checks the rules
      const groups = (spec.groups ?? []) as { name?: unknown; rules?: Record<string, unknown>[] }[];
      need(groups.length > 0, "spec.groups");
      for (const rule of groups.flatMap((g) => g.rules ?? [])) {
        need(typeof rule.alert === "string" && typeof rule.expr === "string", "a rule's alert and expr");
        if ("for" in rule) need(/^([0-9]+(ms|s|m|h|d|w|y))+$/.test(String(rule.for)), `${rule.alert}: for`);
        for (const field of ["labels", "annotations"]) {
          const map = (rule[field] ?? {}) as Record<string, unknown>;
          need(
            Object.values(map).every((v) => typeof v === "string"),
            `${rule.alert}: ${field} are strings`,
          );
        }
      }
      break;
    }
    default:
      problems.push(`no schema for ${object.apiVersion} ${object.kind}`);
  }
  return problems;
}
