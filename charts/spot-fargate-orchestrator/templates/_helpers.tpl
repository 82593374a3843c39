{{/*
Chart name, truncated to the 63 characters of a label value.
*/}}
{{- define "spot-fargate-orchestrator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's resources. When the release name already contains the chart name it is used as is.
*/}}
{{- define "spot-fargate-orchestrator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "spot-fargate-orchestrator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels of every resource.
*/}}
{{- define "spot-fargate-orchestrator.labels" -}}
helm.sh/chart: {{ include "spot-fargate-orchestrator.chart" . }}
{{ include "spot-fargate-orchestrator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: spot-fargate-orchestrator
{{- end }}

{{/*
Labels selecting the orchestrator's pods.
*/}}
{{- define "spot-fargate-orchestrator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spot-fargate-orchestrator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount.
*/}}
{{- define "spot-fargate-orchestrator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "spot-fargate-orchestrator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Kubernetes username of the orchestrator's own requests: the webhook keeps the `reason` they set.
*/}}
{{- define "spot-fargate-orchestrator.username" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "spot-fargate-orchestrator.serviceAccountName" .) }}
{{- end }}

{{/*
Image reference: the digest wins over the tag; the tag defaults to the chart's appVersion.
*/}}
{{- define "spot-fargate-orchestrator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Names of the webhook's Service, TLS Secret and configurations.
*/}}
{{- define "spot-fargate-orchestrator.webhookServiceName" -}}
{{- include "spot-fargate-orchestrator.fullname" . }}
{{- end }}

{{- define "spot-fargate-orchestrator.tlsSecretName" -}}
{{- printf "%s-tls" (include "spot-fargate-orchestrator.fullname" .) }}
{{- end }}

{{- define "spot-fargate-orchestrator.servingCertificateName" -}}
{{- printf "%s-serving" (include "spot-fargate-orchestrator.fullname" .) }}
{{- end }}

{{/*
commonName of the chart's CA: `<fullname>-ca`, within the 64 characters X.509 (and cert-manager) allow for a
common name; the full name itself can be 63.
*/}}
{{- define "spot-fargate-orchestrator.caCommonName" -}}
{{- printf "%s-ca" (include "spot-fargate-orchestrator.fullname" . | trunc 61 | trimSuffix "-") }}
{{- end }}

{{/*
DNS names the webhook's serving certificate covers.
*/}}
{{- define "spot-fargate-orchestrator.dnsNames" -}}
{{- $svc := include "spot-fargate-orchestrator.webhookServiceName" . }}
{{- $names := list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace) }}
{{- concat $names .Values.webhook.tls.extraDnsNames | toJson }}
{{- end }}

{{/*
Name and key of the Secret holding the Slack URL; empty when there is none.
*/}}
{{- define "spot-fargate-orchestrator.slackSecretName" -}}
{{- if .Values.slack.existingSecret }}
{{- .Values.slack.existingSecret }}
{{- else if .Values.slack.webhookUrl }}
{{- printf "%s-slack" (include "spot-fargate-orchestrator.fullname" .) }}
{{- end }}
{{- end }}

{{- define "spot-fargate-orchestrator.slackSecretKey" -}}
{{- if .Values.slack.existingSecret }}
{{- .Values.slack.existingSecretKey }}
{{- else }}
{{- print "webhook-url" }}
{{- end }}
{{- end }}

{{/*
Where config.toml is mounted.
*/}}
{{- define "spot-fargate-orchestrator.configPath" -}}
/etc/spot-orchestrator/config.toml
{{- end }}

{{/*
A TOML value from a YAML value: strings, numbers and lists as JSON (valid TOML), maps as inline tables.
*/}}
{{- define "spot-fargate-orchestrator.tomlValue" -}}
{{- if kindIs "map" . }}
{{- $pairs := list }}
{{- range $k, $v := . }}
{{- $pairs = append $pairs (printf "%s = %s" (toJson $k) (toJson (toString $v))) }}
{{- end }}
{{- if $pairs }}{ {{ join ", " $pairs }} }{{ else }}{}{{ end }}
{{- else }}
{{- toJson . }}
{{- end }}
{{- end }}

{{/*
config.toml: the `config` values, plus the sections the chart owns (ports and TLS paths of the containers).
*/}}
{{- define "spot-fargate-orchestrator.configToml" -}}
{{- $config := deepCopy .Values.config }}
{{- $_ := set $config "webhook" (dict
  "port" .Values.webhook.port
  "health_port" .Values.webhook.healthPort
  "tls_cert" "/tls/tls.crt"
  "tls_key" "/tls/tls.key") }}
{{- $_ = set $config "watcher" (merge (dict "health_port" .Values.watcher.healthPort) $config.watcher) }}
{{- range $section, $keys := $config }}
[{{ $section }}]
{{- range $key, $value := $keys }}
{{ $key }} = {{ include "spot-fargate-orchestrator.tomlValue" $value }}
{{- end }}
{{ end }}
{{- end }}

{{/*
The default affinity: never on spot capacity, replicas preferably on different nodes.
*/}}
{{- define "spot-fargate-orchestrator.defaultAffinity" -}}
nodeAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    nodeSelectorTerms:
      - matchExpressions:
          - key: eks.amazonaws.com/capacityType
            operator: NotIn
            values:
              - SPOT
          - key: karpenter.sh/capacity-type
            operator: NotIn
            values:
              - spot
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "spot-fargate-orchestrator.selectorLabels" . | nindent 12 }}
{{- end }}

{{/*
The default topology spread: across zones when possible.
*/}}
{{- define "spot-fargate-orchestrator.defaultTopologySpreadConstraints" -}}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  matchLabelKeys:
    - pod-template-hash
  labelSelector:
    matchLabels:
      {{- include "spot-fargate-orchestrator.selectorLabels" . | nindent 6 }}
{{- end }}

{{/*
The CEL condition that sends the webhooks only Deployments carrying any spot-orchestrator.io/ annotation,
before or after the change: opted-in ones (opting out included), and those with a bad `enabled` or
`compute` value, which the validating webhook denies whether or not they are opted in.
*/}}
{{- define "spot-fargate-orchestrator.matchConditions" -}}
{{- $annotated := "%s != null && has(%s.metadata.annotations) && %s.metadata.annotations.exists(k, k.startsWith('spot-orchestrator.io/'))" }}
{{- $conditions := list (printf $annotated "object" "object" "object") (printf $annotated "oldObject" "oldObject" "oldObject") }}
{{- with .Values.config.kubernetes.deployment_name }}
{{- $conditions = append $conditions (printf "object != null && object.metadata.name == %s" (squote .)) }}
{{- $conditions = append $conditions (printf "oldObject != null && oldObject.metadata.name == %s" (squote .)) }}
{{- end }}
- name: orchestrator-annotations
  expression: {{ printf "(%s)" (join ") || (" $conditions) | quote }}
{{- end }}

{{/*
namespaceSelector of both webhooks.
*/}}
{{- define "spot-fargate-orchestrator.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      {{- range uniq (append .Values.webhook.excludeNamespaces .Release.Namespace) }}
      - {{ . | quote }}
      {{- end }}
  {{- with .Values.config.kubernetes.namespace }}
  - key: kubernetes.io/metadata.name
    operator: In
    values:
      {{- range . }}
      - {{ . | quote }}
      {{- end }}
  {{- end }}
{{- end }}

{{/*
clientConfig of a webhook: the in-cluster Service, or webhook.url when set.
*/}}
{{- define "spot-fargate-orchestrator.clientConfig" -}}
{{- $root := index . 0 }}
{{- $path := index . 1 }}
{{- $caBundle := index . 2 }}
{{- if $root.Values.webhook.url }}
url: {{ printf "%s%s" (trimSuffix "/" $root.Values.webhook.url) $path | quote }}
{{- else }}
service:
  name: {{ include "spot-fargate-orchestrator.webhookServiceName" $root }}
  namespace: {{ $root.Release.Namespace }}
  path: {{ $path }}
  port: {{ $root.Values.webhook.service.port }}
{{- end }}
{{- with $caBundle }}
caBundle: {{ . }}
{{- end }}
{{- end }}

{{/*
PromQL label matchers selecting this release's metrics, without braces.
*/}}
{{- define "spot-fargate-orchestrator.metricSelector" -}}
{{- .Values.prometheusRule.metricSelector | default (printf "namespace=%q" .Release.Namespace) }}
{{- end }}

{{/*
Labels of one alert: its severity and the release's alertLabels. Called with (list $ .severity).
*/}}
{{- define "spot-fargate-orchestrator.alertLabels" -}}
severity: {{ index . 1 | quote }}
{{- with (index . 0).Values.prometheusRule.alertLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
What policy scanners (checkov, kube-score) report on the Deployment and is a choice, skipped by check ID with
the reason; a choice that values undo (a digest, `Always`, the NetworkPolicy) is skipped only while it holds.
The project README's "What the scanners say" lists them. checkov takes `<ID>=<reason>` (no `=` in the reason).
*/}}
{{- define "spot-fargate-orchestrator.scannerSkips" -}}
{{- $kubeScore := list "container-resources" "container-ephemeral-storage-request-and-limit" -}}
checkov.io/skip1: "CKV_K8S_11=CPU is requested, not limited: a CFS quota would throttle the webhook and the watcher in the burst of an interruption, when they must answer fastest; memory is limited"
checkov.io/skip2: "CKV_K8S_38=both processes call the Kubernetes API as the ServiceAccount, so its token is mounted"
{{- if ne .Values.image.pullPolicy "Always" }}
{{- $kubeScore = append $kubeScore "container-image-pull-policy" }}
checkov.io/skip3: "CKV_K8S_15=IfNotPresent: the image is a release tag (or a digest), never overwritten, so a node's copy is the registry's"
{{- end }}
{{- if not .Values.image.digest }}
checkov.io/skip4: "CKV_K8S_43=the image is the chart's release tag by default; image.digest pins it"
{{- end }}
{{- if include "spot-fargate-orchestrator.slackSecretName" . }}
checkov.io/skip6: "CKV_K8S_35=the Slack URL reaches the watcher as SLACK_WEBHOOK_URL (its setting) by reference to its Secret, never as a value in the pod spec"
{{- end }}
{{- if not .Values.networkPolicy.enabled }}
{{- $kubeScore = append $kubeScore "pod-networkpolicy" }}
checkov.io/skip5: "CKV2_K8S_6=the chart's NetworkPolicy is off by default (it needs a plugin that enforces it and your network's CIDRs): networkPolicy.enabled"
{{- end }}
kube-score/ignore: {{ join "," $kubeScore }}
{{- end }}
