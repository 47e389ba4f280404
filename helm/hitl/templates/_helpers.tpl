{{/* Names, labels and the per-service values every template shares. */}}

{{- define "hitl.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hitl.fullname" -}}
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

{{/* The name of a service's objects: <fullname>-<service>. Takes (dict "root" $ "name" name). */}}
{{- define "hitl.componentName" -}}
{{- printf "%s-%s" (include "hitl.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hitl.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "hitl.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hitl
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "hitl.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hitl.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of a service's objects. Takes (dict "root" $ "name" name). */}}
{{- define "hitl.componentLabels" -}}
{{ include "hitl.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "hitl.componentSelectorLabels" -}}
{{ include "hitl.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/*
Merges .src into .dst in place, key by key, maps recursively; anything else in .src (lists,
false, 0, null) replaces what .dst has. Sprig's merge functions skip false and 0, which would
make `pdb: {enabled: false}` on one service a no-op.
*/}}
{{- define "hitl.merge" -}}
{{- $dst := .dst }}
{{- range $key, $value := .src }}
{{- if and (kindIs "map" $value) (kindIs "map" (index $dst $key)) }}
{{- include "hitl.merge" (dict "dst" (index $dst $key) "src" $value) }}
{{- else }}
{{- $_ := set $dst $key $value }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A service's values: serviceDefaults, then services.<name> over it, then its settings over the
global ones, as JSON (read it with fromJson). Takes (dict "root" $ "name" name).
*/}}
{{- define "hitl.service" -}}
{{- $svc := deepCopy .root.Values.serviceDefaults }}
{{- include "hitl.merge" (dict "dst" $svc "src" (deepCopy (index .root.Values.services .name | default dict))) }}
{{- $settings := deepCopy (.root.Values.settings | default dict) }}
{{- include "hitl.merge" (dict "dst" $settings "src" ($svc.settings | default dict)) }}
{{- $_ := set $svc "settings" $settings }}
{{- toJson $svc }}
{{- end }}

{{/* The Secret with the URLs: the service's own, secrets.existingSecret, or the chart's. */}}
{{- define "hitl.urlSecretName" -}}
{{- if .svc.existingSecret }}
{{- .svc.existingSecret }}
{{- else if .root.Values.secrets.existingSecret }}
{{- .root.Values.secrets.existingSecret }}
{{- else }}
{{- include "hitl.fullname" .root }}
{{- end }}
{{- end }}

{{/* The data of a service's settings ConfigMap: HITL_<NAME> for each setting that is not null. */}}
{{- define "hitl.settingsData" -}}
{{- range $key, $value := .svc.settings }}
{{- if not (kindIs "invalid" $value) }}
{{ printf "HITL_%s" (upper $key) }}: {{ if kindIs "string" $value }}{{ $value | quote }}{{ else }}{{ toJson $value | quote }}{{ end }}
{{- end }}
{{- end }}
{{- end }}

{{/* routing.yaml and any other files of the release, mounted at /etc/hitl. */}}
{{- define "hitl.filesData" -}}
{{- if .Values.routing }}
routing.yaml: |
  {{- toYaml .Values.routing | nindent 2 }}
{{- end }}
{{- end }}

{{- define "hitl.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hitl.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "hitl.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* A service's port named http, as JSON ("{}" when it has none). Takes the service's values. */}}
{{- define "hitl.httpPort" -}}
{{- $found := dict }}
{{- range .ports }}
{{- if eq .name "http" }}
{{- $found = . }}
{{- end }}
{{- end }}
{{- toJson $found }}
{{- end }}

{{/* Whether a service runs `hitl gateway`: "true" or "". Takes the service's values. */}}
{{- define "hitl.isGateway" -}}
{{- if and .args (eq (index .args 0) "gateway") }}true{{ end }}
{{- end }}
