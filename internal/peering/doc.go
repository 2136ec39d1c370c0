// Package peering is the Liqo peering code kubectl xr and xr-capi-peerer share: Liqo's own
// liqoctl peer and unpeer run with factories built from REST configs held in memory, Cluster
// API clusters' readiness and kubeconfigs, and the records kept on Liqo's ForeignClusters.
package peering
