// Package capilocal is the test bed's Cluster API infrastructure and control-plane
// provider (contract v1beta2). A Cluster whose spec.infrastructureRef names a LocalCluster
// and whose spec.controlPlaneRef names a LocalControlPlane gets a real local control plane
// of the sandbox (etcd and kube-apiserver, optionally Liqo's control plane and kwok), its
// <cluster>-kubeconfig Secret and its endpoint; Cluster API's own core manager
// (sandbox.ClusterOptions.ClusterAPI) then sets the Cluster's phase and conditions.
// Deleting the Cluster stops the control plane.
//
// What it does not model, compared with a real infrastructure provider: no machines (the
// control plane reports itself externally managed, like a cloud's managed control plane,
// and MachineDeployments are not supported), no load balancer (the endpoint is the API
// server's loopback port), no upgrades (spec.version is not acted on), and a control plane
// that dies is not restarted or reported. It runs in the test's process, because the
// control planes it starts are the sandbox's.
package capilocal
