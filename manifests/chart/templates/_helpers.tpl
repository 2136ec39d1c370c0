{{/* kubectl xr's commands (install, doctor, offload) find xr-webhook in kubexr-system. */}}
{{- define "xr-webhook.namespaceCheck" -}}
{{- if ne .Release.Namespace "kubexr-system" -}}
{{- fail (printf "namespace %q: install xr-webhook into kubexr-system (helm install xr-webhook CHART -n kubexr-system), where kubectl xr looks for it" .Release.Namespace) -}}
{{- end -}}
{{- end -}}

{{- define "xr-webhook.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* Always excluded: xr-webhook's own namespace, so its pods can always start. */}}
{{- define "xr-webhook.excludedNamespaces" -}}
{{- append .Values.excludedNamespaces .Release.Namespace | toJson -}}
{{- end -}}

{{- define "xr-webhook.caInjection" -}}
{{- if .Values.certManager.enabled -}}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/xr-webhook
{{- end -}}
{{- end -}}
