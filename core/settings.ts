// Every setting: its config.toml key, its environment variable, its kind and default. The one table the
// loader (and the configuration's type), the README's settings table, the chart's config.toml and the
// `config` part of its values.schema.json follow.
import { hostname } from "node:os";
import * as v from "valibot";
import { kinds, type JsonSchema, type Kind } from "./settingKinds.ts";

export interface Setting<T> {
  /** `section.key` in config.toml; the configuration's field is the key in camelCase, unless `field`. */
  key: string;
  field?: string;
  env: string;
  kind: Kind<T>;
  default: string;
  description: string;
  /** Processes that cannot start without it. */
  requiredBy?: readonly Process[];
  /** How the chart sets it itself, when it is not one of the chart's `config` values. */
  chartSets?: string;
  /** What the chart's values.schema.json asks of the value beyond its kind (names Kubernetes restricts). */
  chartSchema?: JsonSchema;
}

export type Process = "webhook" | "watcher" | "cli";

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** Names Kubernetes restricts, as the chart's schema checks them. */
const DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
const DNS_SUBDOMAIN = "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$";
const orEmpty = (pattern: string) => `^(${pattern.slice(1, -1)})?$`;
const LABEL_VALUE: JsonSchema = { minLength: 1, maxLength: 63 };

/** Empty means the host name (a pod's name). */
function orHostName(kind: Kind<string>): Kind<string> {
  return {
    ...kind,
    schema: v.pipe(
      kind.schema,
      v.transform((value) => value || hostname()),
    ),
  };
}

export const SETTINGS = [
  // [kubernetes]
  {
    key: "kubernetes.namespace",
    field: "namespaces",
    env: "NAMESPACE",
    kind: kinds.list,
    default: "",
    description: "Namespaces watched, comma-separated; empty means all",
    chartSchema: { items: { pattern: DNS_LABEL } },
  },
  {
    key: "kubernetes.mode",
    env: "MODE",
    kind: kinds.oneOf(["cluster", "namespace", "single"]),
    default: "cluster",
    description:
      "Kept from the single-Deployment design: `single` requires `deployment_name`; opt-in per Deployment applies in every mode",
  },
  {
    key: "kubernetes.deployment_name",
    env: "DEPLOYMENT_NAME",
    kind: kinds.string,
    default: "",
    description: "When set, this Deployment counts as opted in even without the annotation",
    chartSchema: { pattern: orEmpty(DNS_SUBDOMAIN) },
  },
  {
    key: "kubernetes.service_name",
    env: "SERVICE_NAME",
    kind: kinds.string,
    default: "",
    description:
      "When set, the Service health-checked for `deployment_name` (otherwise every Service selecting its pods)",
    chartSchema: { pattern: orEmpty(DNS_LABEL) },
  },
  {
    key: "kubernetes.qps",
    env: "KUBE_API_QPS",
    kind: kinds.int(1),
    default: "200",
    description:
      "Writes per second the watcher sends to the apiserver (sustained); reads are not paced. When writes wait, flips go first, then drain guards, then the rest, then Events",
  },
  {
    key: "kubernetes.burst",
    env: "KUBE_API_BURST",
    kind: kinds.int(1),
    default: "300",
    description: "Writes the watcher may send at once above `qps`",
  },
  // [monitoring]
  {
    key: "monitoring.check_interval",
    env: "CHECK_INTERVAL",
    kind: kinds.duration({ positive: true }),
    default: "5s",
    description: "How often rollout and health are polled (SQS is long-polled, never paced by this)",
  },
  {
    key: "monitoring.health_check_retries",
    env: "HEALTH_CHECK_RETRIES",
    kind: kinds.int(),
    default: "3",
    description: "Attempts of a pod's HTTP health check before it counts as unhealthy",
  },
  {
    key: "monitoring.health_check_interval",
    env: "HEALTH_CHECK_INTERVAL",
    kind: kinds.duration(),
    default: "2s",
    description: "Pause between those attempts",
  },
  // [migration]
  {
    key: "migration.rollout_timeout",
    env: "ROLLOUT_TIMEOUT",
    kind: kinds.duration({ positive: true }),
    default: "5m",
    description:
      "Longest wait, from the flip, for a move off spot to roll out and become healthy (Fargate: its pods' unscheduled time, start-up and the verification fit in the default)",
  },
  {
    key: "migration.late_healthy_grace",
    env: "LATE_HEALTHY_GRACE",
    kind: kinds.duration(),
    default: "5m",
    description:
      "How long a move off spot whose verdict said `failed: not done after ...` is still followed: healthy within it, `rollout` becomes `healthy` with an Event (0: never)",
  },
  {
    key: "migration.verification_delay",
    env: "VERIFICATION_DELAY",
    kind: kinds.duration(),
    default: "5s",
    description: "Pause after a rollout completes before health is verified",
  },
  {
    key: "migration.dry_run",
    env: "DRY_RUN",
    kind: kinds.bool,
    default: "false",
    description: "Do everything but the writes; logs, Events and alerts say what would have happened",
  },
  {
    key: "migration.rebalance_action",
    env: "REBALANCE_ACTION",
    kind: kinds.oneOf(["alert", "migrate"]),
    default: "alert",
    description: "What an EC2 Instance Rebalance Recommendation does",
  },
  {
    key: "migration.scheduled_change_action",
    env: "SCHEDULED_CHANGE_ACTION",
    kind: kinds.oneOf(["migrate", "alert"]),
    default: "migrate",
    description:
      "What an AWS Health scheduled retirement, stop, reboot or maintenance of an instance does (other scheduled changes only alert)",
  },
  {
    key: "migration.asg_termination_action",
    env: "ASG_TERMINATION_ACTION",
    kind: kinds.oneOf(["migrate", "alert"]),
    default: "migrate",
    description:
      "What an Auto Scaling termination lifecycle action does; `migrate` completes it (CONTINUE) once the moves are done",
  },
  {
    key: "migration.max_concurrent_flips",
    env: "MIGRATION_CONCURRENCY",
    kind: kinds.int(1),
    default: "200",
    description:
      "Flips sent at once, across every event being handled; the rest wait, earliest deadline first, then priority",
  },
  {
    key: "migration.drain_guard",
    env: "DRAIN_GUARD",
    kind: kinds.bool,
    default: "true",
    description:
      "While a move off spot rolls, a PodDisruptionBudget (`maxUnavailable: 0`) over the Deployment's pods holds drainers' evictions (Karpenter, NTH, managed node groups) until replacements are Ready, at most until the node's deadline less the pods' grace period; left out when a PodDisruptionBudget of yours covers the pods",
  },
  {
    key: "migration.drift_check_interval",
    env: "DRIFT_CHECK_INTERVAL",
    kind: kinds.duration(),
    default: "1m",
    description: "How often Deployments whose template does not match their `compute` are repaired",
  },
  // [recovery]
  {
    key: "recovery.enabled",
    env: "RECOVERY_ENABLED",
    kind: kinds.bool,
    default: "true",
    description: "Move workloads back to spot when spot capacity is healthy",
  },
  {
    key: "recovery.interval",
    env: "RECOVERY_INTERVAL",
    kind: kinds.duration(),
    default: "5m",
    description: "How often recovery candidates are examined",
  },
  {
    key: "recovery.cooldown",
    env: "RECOVERY_COOLDOWN",
    kind: kinds.duration(),
    default: "45m",
    description: "Time on Fargate after a move before recovery is tried; also the storm guard's window",
  },
  {
    key: "recovery.timeout",
    env: "RECOVERY_TIMEOUT",
    kind: kinds.duration(),
    default: "3m",
    description: "Longest wait for a recovery to roll out and become healthy",
  },
  {
    key: "recovery.backoff_base",
    env: "RECOVERY_BACKOFF_BASE",
    kind: kinds.duration(),
    default: "15m",
    description: "Wait after the first failed recovery; doubles with each further failure",
  },
  {
    key: "recovery.max_backoff",
    env: "RECOVERY_MAX_BACKOFF",
    kind: kinds.duration(),
    default: "4h",
    description: "Cap of that wait",
  },
  {
    key: "recovery.max_concurrent",
    env: "RECOVERY_MAX_CONCURRENT",
    kind: kinds.int(),
    default: "5",
    description: "Deployments recovering at once, at most",
    chartSchema: { minimum: 1 },
  },
  // [compute]
  {
    key: "compute.spot_label",
    env: "SPOT_LABEL",
    kind: kinds.string,
    default: "spot",
    description: "Value of the pod-template compute label on spot",
    chartSchema: LABEL_VALUE,
  },
  {
    key: "compute.fargate_label",
    env: "FARGATE_LABEL",
    kind: kinds.string,
    default: "fargate",
    description: "Value of the pod-template compute label on Fargate (what the Fargate profile selects)",
    chartSchema: LABEL_VALUE,
  },
  {
    key: "compute.compute_label_key",
    env: "COMPUTE_LABEL_KEY",
    kind: kinds.string,
    default: "compute-type",
    description: "Pod-template label key the Fargate profile selects on",
    chartSchema: { minLength: 1 },
  },
  {
    key: "compute.spot_node_selector",
    env: "SPOT_NODE_SELECTOR",
    kind: kinds.map,
    default: "eks.amazonaws.com/capacityType=SPOT",
    description: "Spot profile: node selector (`k=v,k=v`) applied when moving to spot with nothing stashed",
  },
  {
    key: "compute.spot_tolerations",
    env: "SPOT_TOLERATIONS",
    kind: kinds.tolerations,
    default: "",
    description: "Spot profile: tolerations (`key=value:Effect,key:Effect`)",
  },
  {
    key: "compute.fargate_node_selector",
    env: "FARGATE_NODE_SELECTOR",
    kind: kinds.map,
    default: "",
    description: "Node selector set on Fargate (`k=v,k=v`); empty removes it",
  },
  {
    key: "compute.on_demand_label",
    env: "ON_DEMAND_LABEL",
    kind: kinds.string,
    default: "on-demand",
    description:
      "Value of the pod-template compute label on on-demand nodes (no Fargate profile may select it)",
    chartSchema: LABEL_VALUE,
  },
  {
    key: "compute.on_demand_node_selector",
    env: "ON_DEMAND_NODE_SELECTOR",
    kind: kinds.map,
    default: "eks.amazonaws.com/capacityType=ON_DEMAND",
    description:
      "Node selector (`k=v,k=v`) of on-demand capacity, set with `compute=on-demand`; Karpenter: `karpenter.sh/capacity-type=on-demand`",
  },
  {
    key: "compute.on_demand_tolerations",
    env: "ON_DEMAND_TOLERATIONS",
    kind: kinds.tolerations,
    default: "",
    description:
      "Tolerations (`key=value:Effect,key:Effect`) added to the template's own with `compute=on-demand`",
  },
  // [aws]
  {
    key: "aws.region",
    env: "AWS_REGION",
    kind: kinds.string,
    default: "",
    description:
      "Region of the SQS queue; empty: the region its URL names. Set to another region than the URL's, the watcher refuses to start",
    chartSchema: { pattern: "^([a-z]{2}(-[a-z]+)+-[0-9]+)?$" },
  },
  {
    key: "aws.sqs_queue_url",
    env: "SQS_QUEUE_URL",
    kind: kinds.url,
    default: "",
    description: "Queue that EventBridge sends EC2 events to (one per cluster)",
    requiredBy: ["watcher"],
  },
  {
    key: "aws.sqs_endpoint_url",
    env: "AWS_ENDPOINT_URL_SQS",
    kind: kinds.url,
    default: "",
    description: "SQS endpoint override (emulators, VPC endpoints)",
  },
  {
    key: "aws.autoscaling_endpoint_url",
    env: "AWS_ENDPOINT_URL_AUTO_SCALING",
    kind: kinds.url,
    default: "",
    description:
      "Auto Scaling endpoint override (emulators, VPC endpoints), for completing lifecycle actions",
  },
  {
    key: "aws.receive_wait_time",
    env: "SQS_RECEIVE_WAIT_TIME",
    kind: kinds.duration({ min: 1_000, max: 20_000 }),
    default: "20s",
    description:
      "Long-poll wait of each receive (1s-20s); a graceful stop lets the last poll finish, so it also bounds how long stopping takes",
  },
  {
    key: "aws.max_events_in_flight",
    env: "SQS_MAX_EVENTS_IN_FLIGHT",
    kind: kinds.int(1),
    default: "200",
    description:
      "Events handled at once; a burst beyond it waits in the queue (an availability zone's reclaim is about 100 warnings at once)",
  },
  {
    key: "aws.parallel_receives",
    env: "SQS_PARALLEL_RECEIVES",
    kind: kinds.int(1),
    default: "5",
    description:
      "Receives sent at once while the queue hands out full batches (10 messages each), so a burst is taken as fast as SQS gives it; one long poll otherwise",
  },
  {
    key: "aws.queue_unreachable_after",
    env: "QUEUE_UNREACHABLE_AFTER",
    kind: kinds.duration({ positive: true }),
    default: "60s",
    description:
      "How long receives from the queue may fail before the leader reports it unreachable (Warning Event on its Pod, metric, alert, `status`)",
  },
  // [alerts]
  {
    key: "alerts.enabled",
    env: "ALERTS_ENABLED",
    kind: kinds.bool,
    default: "true",
    description: "Send Slack alerts",
  },
  {
    key: "alerts.slack_webhook_url",
    env: "SLACK_WEBHOOK_URL",
    kind: kinds.url,
    default: "",
    description: "Slack incoming-webhook URL (the chart reads it from a Secret)",
    chartSets: "`SLACK_WEBHOOK_URL`, from the Secret of `slack`",
  },
  {
    key: "alerts.max_per_minute",
    env: "ALERTS_MAX_PER_MINUTE",
    kind: kinds.int(),
    default: "20",
    description:
      "Slack messages per minute, at most; more are held and sent together, one digest naming each, as soon as the limit allows",
  },
  {
    key: "alerts.cluster_name",
    env: "CLUSTER_NAME",
    kind: kinds.string,
    default: "",
    description:
      "Cluster named in every Slack message (`Spot interruption warning in prod-eu: node ...`), for channels several clusters share; empty: none",
  },
  // [logging]
  {
    key: "logging.level",
    env: "LOG_LEVEL",
    kind: kinds.oneOf(LOG_LEVELS),
    default: "info",
    description: "Log level",
  },
  {
    key: "logging.format",
    env: "LOG_FORMAT",
    kind: kinds.oneOf(["auto", "console", "json"]),
    default: "auto",
    description: "`auto` is readable on a terminal and JSON elsewhere",
  },
  // [webhook]
  {
    key: "webhook.port",
    env: "WEBHOOK_PORT",
    kind: kinds.port,
    default: "9443",
    description: "HTTPS port of /mutate and /validate",
    chartSets: "from `webhook.port`",
  },
  {
    key: "webhook.health_port",
    env: "HEALTH_PORT",
    kind: kinds.port,
    default: "8080",
    description: "Plain-HTTP port of the webhook's /healthz, /readyz and /metrics",
    chartSets: "from `webhook.healthPort`",
  },
  {
    key: "webhook.tls_cert",
    env: "TLS_CERT",
    kind: kinds.string,
    default: "/tls/tls.crt",
    description: "Serving certificate (reloaded when it changes)",
    chartSets: "the mounted TLS Secret",
  },
  {
    key: "webhook.tls_key",
    env: "TLS_KEY",
    kind: kinds.string,
    default: "/tls/tls.key",
    description: "Serving key (reloaded when it changes)",
    chartSets: "the mounted TLS Secret",
  },
  {
    key: "webhook.orchestrator_username",
    env: "ORCHESTRATOR_USERNAME",
    kind: kinds.string,
    default: "system:serviceaccount:spot-fargate-orchestrator:spot-fargate-orchestrator",
    description:
      "Requester whose `reason` is kept; any other requester changing `compute` gets `reason=manual`",
    chartSets: "`ORCHESTRATOR_USERNAME`, the release's ServiceAccount",
  },
  // [watcher]
  {
    key: "watcher.health_port",
    env: "WATCHER_HEALTH_PORT",
    kind: kinds.port,
    default: "8081",
    description: "Plain-HTTP port of the watcher's /healthz, /readyz and /metrics",
    chartSets: "from `watcher.healthPort`",
  },
  {
    key: "watcher.leader_election",
    env: "LEADER_ELECTION",
    kind: kinds.bool,
    default: "true",
    description: "Elect one active watcher over a Lease (safe with several replicas)",
  },
  {
    key: "watcher.lease_name",
    env: "LEASE_NAME",
    kind: kinds.string,
    default: "spot-fargate-orchestrator",
    description: "Name of that Lease",
    chartSchema: { pattern: DNS_SUBDOMAIN, maxLength: 253 },
  },
  {
    key: "watcher.lease_namespace",
    env: "POD_NAMESPACE",
    kind: kinds.string,
    default: "default",
    description: "Namespace of that Lease (the chart passes the release namespace)",
    chartSets: "`POD_NAMESPACE`, the release namespace",
  },
  {
    key: "watcher.identity",
    env: "POD_NAME",
    kind: orHostName(kinds.string),
    default: "",
    description: "Holder identity in the Lease; empty means the host name",
    chartSets: "`POD_NAME`",
  },
  {
    key: "watcher.pod_uid",
    env: "POD_UID",
    kind: kinds.string,
    default: "",
    description:
      "UID of the watcher's Pod (the chart passes it), named by the Events it records on its Pod so `kubectl describe pod` lists them",
    chartSets: "`POD_UID`",
  },
  // [fargate] budget and fallback
  {
    key: "fargate.max_vcpu",
    env: "FARGATE_MAX_VCPU",
    kind: kinds.int(),
    default: "0",
    description:
      "Fargate budget: vCPU of opted-in Deployments on Fargate at once, counted at Fargate's pod sizes; an interruption moves what fits, highest priority first. 0: no limit",
  },
  {
    key: "fargate.max_pods",
    env: "FARGATE_MAX_PODS",
    kind: kinds.int(),
    default: "0",
    description: "Fargate budget: pods of opted-in Deployments on Fargate at once. 0: no limit",
  },
  {
    key: "fargate.fallback",
    env: "FARGATE_FALLBACK",
    kind: kinds.oneOf(["none", "on-demand"]),
    default: "none",
    description:
      "What an interruption does with a Deployment that does not fit the budget or cannot run on Fargate: `none` leaves it on its node, `on-demand` moves it to on-demand nodes",
  },
  {
    key: "fargate.pending_timeout",
    env: "FARGATE_PENDING_TIMEOUT",
    kind: kinds.duration({ positive: true }),
    default: "90s",
    description:
      "A move to Fargate whose new pod stays unscheduled (no node) this long fails, naming the Fargate scheduler's or the scheduler's reason",
  },
  {
    key: "fargate.startup_timeout",
    env: "FARGATE_STARTUP_TIMEOUT",
    kind: kinds.duration({ positive: true }),
    default: "3m",
    description:
      "A move to Fargate whose new pod, bound to its Fargate node, is not Ready this long fails, naming what it waits for (EKS: 30-90 s is usual, a microVM and an uncached image pull per pod)",
  },
  {
    key: "fargate.expected_startup",
    env: "FARGATE_EXPECTED_STARTUP",
    kind: kinds.duration({ positive: true }),
    default: "60s",
    description:
      "How long a Fargate pod is expected to take from its flip to Ready; a move that cannot be Ready before its node's deadline (less the pods' grace period) at this start-up and the launch rate is announced at its start",
  },
  {
    key: "fargate.launch_rate",
    env: "FARGATE_LAUNCH_RATE",
    kind: kinds.int(1),
    default: "20",
    description:
      "Fargate pods the account launches per second (AWS's default quota: 20/s, burst 20), for that forecast",
  },
] as const satisfies readonly Setting<unknown>[];

export type SettingKey = (typeof SETTINGS)[number]["key"];
