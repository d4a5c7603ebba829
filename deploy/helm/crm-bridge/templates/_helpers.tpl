{{/* The chart's name, and the release's full name, at most 63 characters. */}}
{{- define "crm-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "crm-bridge.fullname" -}}
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

{{- define "crm-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "crm-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "crm-bridge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "crm-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The Secret the chart makes for the values given in config (the CRM key, the NATS password). */}}
{{- define "crm-bridge.secretName" -}}
{{- include "crm-bridge.fullname" . }}
{{- end }}

{{/* Whether the chart makes its own Secret. */}}
{{- define "crm-bridge.ownSecret" -}}
{{- $c := .Values.config }}
{{- if or (and (not $c.crmApiKey.existingSecret) $c.crmApiKey.value (not $c.crmApiKeyFile)) (and (not $c.natsPassword.existingSecret) $c.natsPassword.value) }}true{{ end }}
{{- end }}

{{/* The port of config.httpAddr. */}}
{{- define "crm-bridge.httpPort" -}}
{{- .Values.config.httpAddr | toString | splitList ":" | last | int }}
{{- end }}

{{/* Settings given as Secret files: value key, env var, mount dir. */}}
{{- define "crm-bridge.secretFiles" -}}
natsCreds: {env: BRIDGE_NATS_CREDS, dir: /var/run/secrets/crm-bridge/nats-creds}
natsTlsCa: {env: BRIDGE_NATS_TLS_CA, dir: /var/run/secrets/crm-bridge/nats-tls-ca}
natsTlsCert: {env: BRIDGE_NATS_TLS_CERT, dir: /var/run/secrets/crm-bridge/nats-tls-cert}
natsTlsKey: {env: BRIDGE_NATS_TLS_KEY, dir: /var/run/secrets/crm-bridge/nats-tls-key}
{{- end }}
