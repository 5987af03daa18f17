{{- define "vipkeeper.ns" -}}{{ .Values.namespace.name }}{{- end -}}

{{- define "vipkeeper.labels" -}}
app.kubernetes.io/name: vipkeeper
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "vipkeeper.selector" -}}
app.kubernetes.io/name: vipkeeper
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vipkeeper.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* Settings of both roles, as their VIPKEEPER_* environment variables. */}}
{{- define "vipkeeper.env" -}}
- name: VIPKEEPER_NAMESPACE
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
- name: VIPKEEPER_LEASE_DURATION
  value: {{ .Values.timing.leaseDuration | default (ternary "2s" "15s" .Values.rideThrough.enabled) | quote }}
- name: VIPKEEPER_RENEW_DEADLINE
  value: {{ .Values.timing.renewDeadline | default (ternary "1.2s" "10s" .Values.rideThrough.enabled) | quote }}
- name: VIPKEEPER_RETRY_PERIOD
  value: {{ .Values.timing.retryPeriod | default (ternary "400ms" "2s" .Values.rideThrough.enabled) | quote }}
- name: VIPKEEPER_RIDE_CAP
  value: {{ .Values.rideThrough.cap | quote }}
- name: VIPKEEPER_CLOCK_RATE_BOUND
  value: {{ .Values.rideThrough.clockRateBound | quote }}
- name: VIPKEEPER_LOAD_BALANCER_CLASS
  value: {{ .Values.loadBalancerClass | quote }}
- name: VIPKEEPER_DEFAULT_CLASS
  value: {{ .Values.defaultClass | quote }}
- name: VIPKEEPER_IGNORE_EXCLUDE_LB
  value: {{ .Values.ignoreExcludeLB | quote }}
- name: VIPKEEPER_METRICS_ADDR
  value: {{ printf ":%v" .Values.metrics.port | quote }}
- name: VIPKEEPER_HEALTH_ADDR
  value: {{ printf ":%v" .Values.healthPort | quote }}
- name: VIPKEEPER_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: VIPKEEPER_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
{{- end -}}

{{/* Arguments of both roles after the subcommand (metrics off is an empty address, which
an environment variable cannot say). */}}
{{- define "vipkeeper.args" -}}
{{- if not .Values.metrics.enabled }}
- --metrics-addr=
{{- end }}
{{- end -}}

{{- define "vipkeeper.ports" -}}
{{- if .Values.metrics.enabled }}
- {name: metrics, containerPort: {{ .Values.metrics.port }}}
{{- end }}
- {name: health, containerPort: {{ .Values.healthPort }}}
{{- end -}}

{{/* /livez never asks the API server: an API outage must not restart us (cilium#31702). */}}
{{- define "vipkeeper.probes" -}}
livenessProbe:
  httpGet: {path: /livez, port: health}
  periodSeconds: 10
  failureThreshold: 6
readinessProbe:
  httpGet: {path: /readyz, port: health}
  periodSeconds: 5
{{- end -}}

{{- define "vipkeeper.nodeSelector" -}}
{{- $sel := merge (deepCopy .) (dict "kubernetes.io/os" "linux") -}}
nodeSelector:
  {{- toYaml $sel | nindent 2 }}
{{- end -}}

{{/* The Secret of the peer keys. */}}
{{- define "vipkeeper.peerSecret" -}}
{{- .Values.rideThrough.existingSecret | default "vipkeeper-peer-keys" -}}
{{- end -}}
