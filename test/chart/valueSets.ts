// Value sets of the chart covering every template branch: each renders valid manifests (chart.test.ts) and passes
// the scanners a platform team runs (scanners.test.ts).
/** Value sets covering every template branch, all of which must render valid manifests. */
export const valueSets: Record<string, object> = {
  defaults: {},
  "cert-manager off, url, one replica": {
    certManager: { enabled: false },
    replicaCount: 1,
    webhook: {
      url: "https://127.0.0.1:9443",
      tls: { ipAddresses: ["127.0.0.1"], extraDnsNames: ["localhost"] },
    },
  },
  "everything on": {
    replicaCount: 3,
    image: { digest: `sha256:${"a".repeat(64)}` },
    imagePullSecrets: [{ name: "registry" }],
    serviceAccount: { annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/spot" } },
    priorityClassName: "system-cluster-critical",
    deploymentAnnotations: { team: "platform" },
    podAnnotations: { "example.com/a": "b" },
    podLabels: { team: "platform" },
    nodeSelector: { "kubernetes.io/os": "linux" },
    tolerations: [{ key: "dedicated", operator: "Equal", value: "system", effect: "NoSchedule" }],
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: "a", operator: "Exists" }] }],
        },
      },
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              topologyKey: "kubernetes.io/hostname",
              labelSelector: { matchLabels: { "app.kubernetes.io/instance": "sfo" } },
            },
          },
        ],
      },
    },
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: "kubernetes.io/hostname",
        whenUnsatisfiable: "DoNotSchedule",
        labelSelector: { matchLabels: { a: "b" } },
      },
    ],
    extraEnv: [{ name: "HTTPS_PROXY", value: "http://proxy:3128" }],
    podDisruptionBudget: { maxUnavailable: "50%" },
    webhook: {
      failurePolicy: { mutating: "Fail", validating: "Fail" },
      service: { annotations: { a: "b" } },
    },
    certManager: { issuerRef: { name: "corp-ca", kind: "ClusterIssuer", group: "cert-manager.io" } },
    slack: { webhookUrl: "https://hooks.slack.com/services/T/B/C" },
    networkPolicy: {
      enabled: true,
      ingress: {
        webhook: { cidrs: ["10.0.0.0/16"], from: [{ ipBlock: { cidr: "10.1.0.0/16" } }] },
        metrics: {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
          podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
        },
      },
      egress: {
        kubernetesApi: { cidrs: ["10.0.0.0/16"], port: 6443 },
        sqs: { cidrs: ["10.0.0.0/16"] },
        sts: { cidrs: [] },
        autoscaling: { cidrs: ["10.0.0.0/16", "2600:1f14::/56"] },
      },
      extraIngress: [{ from: [{ podSelector: { matchLabels: { app: "debug" } } }] }],
      extraEgress: [{ to: [{ ipBlock: { cidr: "10.2.0.1/32" } }], ports: [{ port: 3128, protocol: "TCP" }] }],
    },
    serviceMonitor: {
      enabled: true,
      labels: { release: "prometheus" },
      relabelings: [{ action: "labeldrop", regex: "pod" }],
    },
    prometheusRule: { enabled: true, labels: { release: "prometheus" }, alertLabels: { team: "platform" } },
    grafanaDashboard: { enabled: true, namespace: "monitoring", annotations: { grafana_folder: "Platform" } },
    config: {
      kubernetes: {
        namespace: ["team-a", "team-b"],
        mode: "single",
        deployment_name: "web",
        service_name: "web",
      },
      compute: {
        spot_tolerations: ["spot=true:NoSchedule"],
        fargate_node_selector: { "eks.amazonaws.com/compute-type": "fargate" },
      },
      aws: { region: "eu-west-1", sqs_queue_url: "https://sqs.eu-west-1.amazonaws.com/111122223333/spot" },
      recovery: { enabled: false },
      watcher: { leader_election: false },
    },
  },
};
