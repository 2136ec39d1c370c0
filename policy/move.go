package policy

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MoveReason says why a placed pod's cluster no longer serves its bound. It is the
// reason label of kubexr_moves_total.
type MoveReason string

// Why a pod is out of its bound; MoveReasonStranded is a Pending pod that was admitted
// while no cluster qualified.
const (
	MoveReasonOverBound     MoveReason = "over-bound"
	MoveReasonLinkUnhealthy MoveReason = "link-unhealthy"
	MoveReasonNodeNotReady  MoveReason = "node-not-ready"
	MoveReasonNotPeered     MoveReason = "not-peered"
	MoveReasonStranded      MoveReason = "stranded"
)

// Assessment judges the cluster a placed pod runs on against the pod's bound.
type Assessment struct {
	// Within: the cluster still serves the bound (always for local nodes and unbounded
	// hints). Otherwise Reason and Detail say why not.
	Within bool
	Reason MoveReason
	Detail string
	// RTT is the cluster's decision RTT, when HasRTT.
	RTT    time.Duration
	HasRTT bool
}

// Assess judges clusterID ("" for this cluster's own nodes) for a pod running on one of
// its virtual nodes, which is Ready or not. Leaving is more reluctant than admitting: a
// cluster is over the bound for a running pod only when its RTT exceeds the bound by the
// recovery margin too, so a link jittering around a bound keeps its pods where they run
// while new pods already avoid it.
func (e Evaluation) Assess(clusterID string, nodeReady bool) Assessment {
	bound := e.Decision.Bound
	if clusterID == "" || !e.Hint.Present() || bound == 0 {
		return Assessment{Within: true}
	}
	c, ok := e.inv.Get(clusterID)
	if !ok {
		return Assessment{Reason: MoveReasonNotPeered, Detail: "cluster " + clusterID + " is no longer peered"}
	}
	a := Assessment{}
	a.RTT, a.HasRTT = c.RTT()
	if !nodeReady {
		a.Reason, a.Detail = MoveReasonNodeNotReady, "its virtual node is NotReady"
		return a
	}
	if why := c.Ineligibility(e.req.Now, e.inv.params); why != "" {
		a.Reason, a.Detail = MoveReasonLinkUnhealthy, why
		return a
	}
	if limit := time.Duration(float64(bound) * (1 + e.inv.params.RecoveryMargin)); a.RTT > limit {
		a.Reason, a.Detail = MoveReasonOverBound, "RTT "+FormatRTT(a.RTT)+" is over the bound "+FormatRTT(bound)
		return a
	}
	a.Within = true
	return a
}

// HasAlternative reports whether the decision allows somewhere other than clusterID
// ("" = the local nodes): the mover never evicts a pod into nothing.
func (e Evaluation) HasAlternative(clusterID string) bool {
	if e.Decision.Local && clusterID != "" {
		return true
	}
	for _, c := range e.Decision.Remote {
		if c.ID != clusterID {
			return true
		}
	}
	return false
}

// MoveDue is when a pod out of its bound since since may be moved.
func (e Evaluation) MoveDue(since time.Time) time.Time { return since.Add(e.Hint.MoveAfter) }

// Stranded reports whether a record is that of a pod admitted while nothing qualified:
// it carries a required term no node matches, and node affinity cannot change.
func (r Record) Stranded() bool { return !r.Local && len(r.Eligible) == 0 }

// NotRecreated says why evicting a pod with this controller would not bring it back
// elsewhere ("" if it would): only a ReplicaSet, StatefulSet or Job recreates an evicted
// pod for the webhook to place anew; a DaemonSet's pod belongs to its node.
func NotRecreated(controller *metav1.OwnerReference) string {
	switch {
	case controller == nil:
		return "it has no controller that would recreate it"
	case controller.Kind == "DaemonSet":
		return "a DaemonSet pod belongs to its node and is never moved"
	case controller.Kind == "ReplicaSet" || controller.Kind == "StatefulSet" || controller.Kind == "Job":
		return ""
	}
	return "its controller " + controller.Kind + " is not one that recreates pods elsewhere (ReplicaSet, StatefulSet, Job)"
}
