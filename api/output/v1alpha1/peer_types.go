package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Peer is one cluster peered with Liqo, as `kubectl xr peer list` reports it: its
// metadata.name is Liqo's cluster ID, its creationTimestamp that of Liqo's
// ForeignCluster. The fields are flat so scripts read them directly, e.g.
// -o jsonpath='{.items[*].clusterID}'.
// +kubebuilder:object:root=true
type Peer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// ClusterID is Liqo's ID of the peered cluster (ForeignCluster spec.clusterID).
	ClusterID string `json:"clusterID"`
	// CAPICluster is the Cluster API cluster it was peered from, NAMESPACE/NAME.
	CAPICluster string `json:"capiCluster,omitempty"`
	// ManagedBy names the controller that peered it from its Cluster API cluster and will
	// unpeer it (xr-capi-peerer); empty when it was peered by hand.
	ManagedBy string `json:"managedBy,omitempty"`
	// Role is Liqo's role of the peer: Provider, Consumer or ConsumerAndProvider.
	Role string `json:"role"`
	// Connection is Liqo's Connection status (Connected, Connecting, Error), or
	// NoConnection, or Disabled when Liqo's networking module is off.
	Connection string `json:"connection"`
	// RTT is the smoothed RTT xr-webhook's observer wrote on the virtual nodes, e.g. "4.2ms".
	RTT string `json:"rtt,omitempty"`
	// LatencyClass is the tightest class the cluster meets, as the observer labelled it.
	LatencyClass string `json:"latencyClass,omitempty"`
	// VirtualNodes are the cluster's virtual nodes in this cluster.
	VirtualNodes []string `json:"virtualNodes"`
	// OffloadedNamespaces are the namespaces Liqo maps onto the cluster.
	OffloadedNamespaces []string `json:"offloadedNamespaces"`
}

// PeerList is the output of `kubectl xr peer list -o json|yaml`.
// +kubebuilder:object:root=true
type PeerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Peer `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Peer{}, &PeerList{})
}
