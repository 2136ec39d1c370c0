package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LatencyClassSpec is a named round-trip bound.
type LatencyClassSpec struct {
	// MaxRTT is the largest round-trip time between this cluster and a serving cluster,
	// e.g. "20ms" or "850us". Empty means unbounded.
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s))?$`
	// +optional
	MaxRTT string `json:"maxRTT,omitempty"`
	// MoveAfter is how long a peered cluster must stay out of this class's bound before
	// xr-webhook moves the pods that opted in (kubexr.io/move: auto), e.g. "30s" or "2m";
	// from 0s to 24h. Empty means 30s. A workload's kubexr.io/move-after overrides it.
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +optional
	MoveAfter string `json:"moveAfter,omitempty"`
	// Description says what the class is for and where its bound comes from.
	// +optional
	Description string `json:"description,omitempty"`
}

// LatencyClass names a round-trip bound that pods ask for with the annotation
// kubexr.io/latency-class.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=lc
// +kubebuilder:printcolumn:name="Max RTT",type=string,JSONPath=`.spec.maxRTT`
// +kubebuilder:printcolumn:name="Move After",type=string,JSONPath=`.spec.moveAfter`,priority=1
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type LatencyClass struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec LatencyClassSpec `json:"spec,omitempty"`
}

// LatencyClassList is a list of LatencyClasses.
// +kubebuilder:object:root=true
type LatencyClassList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LatencyClass `json:"items"`
}

func init() {
	SchemeBuilder.Register(&LatencyClass{}, &LatencyClassList{})
}
