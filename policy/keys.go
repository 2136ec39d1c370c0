package policy

// Annotation and label keys from the design brief. They are a contract with users.
const (
	// AnnotationLatencyClass names a LatencyClass the pod's cluster must meet.
	AnnotationLatencyClass = "kubexr.io/latency-class"
	// AnnotationMaxRTT is an explicit round-trip bound such as "15ms".
	AnnotationMaxRTT = "kubexr.io/max-rtt"
	// AnnotationPlacement is any (default), local or remote.
	AnnotationPlacement = "kubexr.io/placement"
	// AnnotationMove opts a pod in to being moved (auto) or keeps it where it runs
	// (never, the default).
	AnnotationMove = "kubexr.io/move"
	// AnnotationMoveAfter is how long a pod must be out of its bound before it is moved.
	AnnotationMoveAfter = "kubexr.io/move-after"
	// AnnotationDecision is where the webhook records the decision on a pod.
	AnnotationDecision = "kubexr.io/decision"
	// AnnotationOutOfBoundSince is when the mover first saw a movable pod's cluster out of
	// its bound (RFC 3339). It is removed when the cluster is back within the bound, and
	// it lets a new leader, and kubectl xr explain, continue the same move delay.
	AnnotationOutOfBoundSince = "kubexr.io/out-of-bound-since"
	// AnnotationRTT is the smoothed RTT the observer writes on virtual nodes.
	AnnotationRTT = "kubexr.io/rtt"
	// AnnotationRTTOverride on a virtual Node is an operator's RTT that wins over measurements.
	AnnotationRTTOverride = "kubexr.io/rtt-override"
	// LabelLatencyClass is the tightest class a virtual node's cluster meets now.
	LabelLatencyClass = "kubexr.io/latency-class"
	// LabelEnabled opts a namespace in to the webhook.
	LabelEnabled = "kubexr.io/enabled"
	// LabelPlaced ("true") marks the pods the webhook placed, next to their decision
	// record: xr-webhook caches only those, so its memory follows the XR pods, not every
	// pod of the cluster (labels are selectable, annotations are not).
	LabelPlaced = "kubexr.io/placed"

	// InjectedKey marks the node-affinity expressions this package injects, so a second
	// application can find and replace them (idempotence, reinvocation). No node carries
	// this label, so "DoesNotExist" on it is always true and changes no placement.
	InjectedKey = "kubexr.io/injected"
	// NoEligibleValue is the value of the expression that matches no node, used when no
	// cluster may take the pod: the pod stays Pending instead of running out of bound.
	NoEligibleValue = "no-eligible-cluster"
)

// Liqo v1.2.0's names (pkg/consts), repeated here so policy imports nothing of Liqo's.
const (
	LiqoTypeLabel            = "liqo.io/type"
	LiqoTypeVirtualNode      = "virtual-node"
	LiqoRemoteClusterIDLabel = "liqo.io/remote-cluster-id"
	LiqoTolerationKey        = "virtual-node.liqo.io/not-allowed"
)

// HintKeys are every annotation key a user states a hint with, on any hint source.
var HintKeys = []string{AnnotationLatencyClass, AnnotationMaxRTT, AnnotationPlacement, AnnotationMove, AnnotationMoveAfter}

// Move says whether the mover may move a pod whose cluster left its bound.
type Move string

// The move policies a hint may ask for.
const (
	MoveAuto  Move = "auto"
	MoveNever Move = "never"
)

// Placement says which side of a peering a pod may run on.
type Placement string

// The placements a hint may ask for.
const (
	PlacementAny    Placement = "any"
	PlacementLocal  Placement = "local"
	PlacementRemote Placement = "remote"
)
