package capilocal

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ControlPlane says what a LocalControlPlane runs besides etcd and kube-apiserver.
type ControlPlane struct {
	// Liqo runs Liqo's real control plane (so the cluster can be peered).
	Liqo bool
	// Kwok runs kwok, which makes the cluster's Nodes Ready.
	Kwok bool
}

// ClusterObjects returns what a user writes to get a local workload cluster from Cluster
// API: a LocalCluster, a LocalControlPlane and the Cluster referring to both, in the order
// to create them (Cluster API waits 30 s before looking again for a missing reference).
func ClusterObjects(namespace, name string, labels map[string]string, cp ControlPlane) []client.Object {
	infra := &unstructured.Unstructured{}
	infra.SetGroupVersionKind(LocalClusterGVK)
	infra.SetNamespace(namespace)
	infra.SetName(name)
	control := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"liqo": cp.Liqo, "kwok": cp.Kwok}}}
	control.SetGroupVersionKind(LocalControlPlaneGVK)
	control.SetNamespace(namespace)
	control.SetName(name)
	return []client.Object{infra, control, Cluster(namespace, name, labels)}
}

// Cluster returns the Cluster API Cluster referring to the LocalCluster and the
// LocalControlPlane of the same name (ClusterObjects' last object). Alone, it stays
// Provisioning: Cluster API finds no infrastructure.
func Cluster(namespace, name string, labels map[string]string) *clusterv1.Cluster {
	return &clusterv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec: clusterv1.ClusterSpec{
			InfrastructureRef: clusterv1.ContractVersionedObjectReference{APIGroup: LocalClusterGVK.Group, Kind: LocalClusterGVK.Kind, Name: name},
			ControlPlaneRef:   clusterv1.ContractVersionedObjectReference{APIGroup: LocalControlPlaneGVK.Group, Kind: LocalControlPlaneGVK.Kind, Name: name},
		},
	}
}
