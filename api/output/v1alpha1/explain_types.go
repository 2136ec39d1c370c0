package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Explanation is `kubectl xr explain TYPE/NAME -o json|yaml`: where a pod or a workload's
// pods may run and why, as xr-webhook decides it now.
// +kubebuilder:object:root=true
type Explanation struct {
	metav1.TypeMeta `json:",inline"`
	// Target is the object explained.
	Target ExplainedObject `json:"target"`
	// HintError is set when the hint is malformed: xr-webhook refuses to create such
	// pods, and nothing below is filled in.
	HintError string `json:"hintError,omitempty"`
	// Hint is the resolved hint and where each part came from; absent when no
	// kubexr.io annotation applies (xr-webhook leaves such pods alone).
	Hint *ExplainedHint `json:"hint,omitempty"`
	// NamespaceEnabled: the namespace carries kubexr.io/enabled=true, so its pods are placed.
	NamespaceEnabled bool `json:"namespaceEnabled"`
	// LocalEligible: the pods may run on this cluster's own nodes.
	LocalEligible bool `json:"localEligible"`
	// Clusters are the peered clusters, each with its verdict.
	Clusters []ClusterVerdict `json:"clusters,omitempty"`
	// Reason says why no cluster qualifies, when none does.
	Reason string `json:"reason,omitempty"`
	// Constraints are the node-affinity terms and toleration placement injects.
	Constraints *ExplainedConstraints `json:"constraints,omitempty"`
	// Pods are the pod (for a pod) or the workload's pods, with where each runs.
	Pods []ExplainedPod `json:"pods,omitempty"`
}

// ExplainedObject names the object explained.
type ExplainedObject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// ExplainedHint is a resolved hint. Durations are written as kubectl xr prints them
// ("12ms", "850µs"); "unbounded" is no bound. Sources read kind/name (pod/x,
// deployment/y, namespace/z) or "default".
type ExplainedHint struct {
	Class           string `json:"class,omitempty"`
	ClassMaxRTT     string `json:"classMaxRTT,omitempty"`
	BoundSource     string `json:"boundSource"`
	MaxRTT          string `json:"maxRTT,omitempty"`
	Placement       string `json:"placement"`
	PlacementSource string `json:"placementSource"`
	// Bound is the tighter of the class bound and maxRTT.
	Bound           string `json:"bound"`
	Note            string `json:"note,omitempty"`
	Move            string `json:"move"`
	MoveSource      string `json:"moveSource"`
	MoveAfter       string `json:"moveAfter"`
	MoveAfterSource string `json:"moveAfterSource"`
}

// ClusterVerdict is one peered cluster's verdict.
type ClusterVerdict struct {
	Cluster string `json:"cluster"`
	// RTT is the smoothed RTT; absent when unknown.
	RTT      string `json:"rtt,omitempty"`
	Eligible bool   `json:"eligible"`
	// Reason says why it is not eligible.
	Reason string `json:"reason,omitempty"`
}

// ConstraintsState says whether the constraints are in the pod or would be injected.
type ConstraintsState string

// The states.
const (
	// ConstraintsInjected: a placed pod's constraints, injected when it was created.
	ConstraintsInjected ConstraintsState = "Injected"
	// ConstraintsWouldInject: what new pods of a workload would get now.
	ConstraintsWouldInject ConstraintsState = "WouldInject"
	// ConstraintsNotInjected: a pod created without xr-webhook; what it would get now.
	ConstraintsNotInjected ConstraintsState = "NotInjected"
)

// ExplainedConstraints are the injected constraints.
type ExplainedConstraints struct {
	State ConstraintsState `json:"state"`
	// RequiredTerms are the required node-affinity terms, each "KEY OP [VALUES]" joined
	// by " AND " (xr-webhook's marker expression left out).
	RequiredTerms []string `json:"requiredTerms,omitempty"`
	// Toleration is the Liqo virtual-node toleration, when injected.
	Toleration string `json:"toleration,omitempty"`
}

// ExplainedPod is one pod and where it runs.
type ExplainedPod struct {
	Name  string `json:"name"`
	Phase string `json:"phase"`
	// Node is empty while the pod is not scheduled.
	Node string `json:"node,omitempty"`
	// Cluster is "local" or the peered cluster's ID.
	Cluster string `json:"cluster,omitempty"`
	// RTT is "0" locally, the cluster's smoothed RTT, or "unknown".
	RTT         string `json:"rtt,omitempty"`
	WithinBound bool   `json:"withinBound"`
	// Verdict is within bound, or why not and what the mover will do about it; for a
	// pod not scheduled, why it waits (empty when nothing is known).
	Verdict string `json:"verdict,omitempty"`
}

func init() {
	SchemeBuilder.Register(&Explanation{})
}
