// Package manifests embeds the project's Kubernetes manifests (the LatencyClass CRD and
// the default classes; later the webhook's RBAC, Deployment and configurations) so that
// `kubectl xr install` can apply them without files on disk.
package manifests
