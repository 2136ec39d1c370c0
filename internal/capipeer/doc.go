// Package capipeer is xr-capi-peerer's controller: Cluster API Clusters selected by a label
// are peered with the Liqo consumer once provisioned with their control plane available,
// and unpeered when deleted or no longer selected. It runs as its own binary and
// Deployment, apart from xr-webhook, because it reads the <cluster>-kubeconfig Secrets.
package capipeer
