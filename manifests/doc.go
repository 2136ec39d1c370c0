// Package manifests embeds the project's Kubernetes manifests — the LatencyClass CRD, the
// default classes and xr-webhook (namespace, RBAC, Deployment, Service, webhook
// configurations) as kustomize folders, with a cert-manager overlay — so that
// `kubectl xr install` can apply them without files on disk.
package manifests
