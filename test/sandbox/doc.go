// Package sandbox starts named local Kubernetes clusters from real binaries (etcd,
// kube-apiserver, and optionally kube-scheduler and kwok) for tests and the demo.
//
// Each cluster has its own PKI, free ports, a kubeconfig on disk, and the CRDs of Liqo
// and Cluster API installed from the Go module cache. Every process it starts is stopped
// by Cluster.Stop, and dies with the test binary if that is killed.
//
// With ClusterOptions.Liqo a cluster runs Liqo's real control plane (liqo*.go), and
// ConnectGateways runs Liqo's real gateways for a peering, in network namespaces, with
// a delay relay on their WireGuard underlay (gateways.go, netns.go): the latency Liqo
// writes into its Connection objects is then measured.
//
// The stand-in for Liqo (liqostandin.go) creates virtual nodes, VirtualNode objects and
// Connection objects exactly as Liqo's controllers and gateway would. It is a stand-in:
// nothing in it peers clusters or measures latency.
//
// The binaries come from `make testbins`, found through KUBEBUILDER_ASSETS.
package sandbox
