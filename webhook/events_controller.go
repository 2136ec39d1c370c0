package webhook

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubexr/kubectl-xr/policy"
)

// Event reasons on pods (design brief).
const (
	ReasonPlaced            = "XRPlaced"
	ReasonNoEligibleCluster = "XRNoEligibleCluster"
)

// PlacementEvents explains placements with Events. It runs after the pod exists because
// at admission a pod made from generateName has no name to attach an Event to. Only the
// leader runs it.
//
// A pod no cluster could take gets a Warning of its own: it is Pending and must say why.
// A placed pod made by a controller (ReplicaSet, Job, StatefulSet…) is explained on that
// controller, once per distinct decision, naming the pod that first showed it: a
// controller's pods share their hint and so their decision until the measurements
// change, and one Event per pod doubled what the API server writes for every pod
// created (BENCHMARKS.md §3). Each pod's own decision stays in its kubexr.io/decision
// annotation (`kubectl xr explain pod/NAME`). A bare pod gets its own Event.
type PlacementEvents struct {
	Client   client.Reader
	Recorder Recorder
	told     toldOwners
}

// Recorder is the part of the events.k8s.io recorder (manager.GetEventRecorder) used here.
type Recorder interface {
	Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// eventAction is the events.k8s.io "action" of placement Events.
const eventAction = "Place"

// CreatedSince selects pod creations carrying a decision and created at or after since,
// so a restarted leader does not repeat the Events of pods placed before it started.
func CreatedSince(since time.Time) predicate.Funcs {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool {
			_, ok := e.Object.GetAnnotations()[policy.AnnotationDecision]
			return ok && !e.Object.GetCreationTimestamp().Time.Before(since.Truncate(time.Second))
		},
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// Reconcile emits the Event of one pod's decision, unless its controller was told it.
func (e *PlacementEvents) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	pod := &corev1.Pod{}
	if err := e.Client.Get(ctx, req.NamespacedName, pod); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	rec, err := policy.ParseRecord(pod.Annotations[policy.AnnotationDecision])
	if err != nil {
		// Someone else's value in our annotation: nothing to explain, nothing to retry.
		logf.FromContext(ctx).Info("pod decision annotation is not a decision record", "error", err.Error())
		return reconcile.Result{}, nil
	}
	owner := metav1.GetControllerOfNoCopy(pod)
	eventtype, reason, note := placementEvent(rec, strandedFate(owner, rec.Move))
	if owner == nil || eventtype != corev1.EventTypeNormal {
		e.Recorder.Eventf(pod, nil, eventtype, reason, eventAction, "%s", note)
		return reconcile.Result{}, nil
	}
	// Pods whose hint is their own (copied from their controller's template) differ only
	// in the source's pod name: that is the same decision.
	same := rec
	if strings.HasPrefix(same.Source, "pod/") {
		same.Source = "pod"
	}
	if _, _, key := placementEvent(same, ""); !e.told.first(owner.UID, key) {
		return reconcile.Result{}, nil
	}
	// The pod is the Event's related object, so each new decision is an Event of its own
	// rather than a count on the controller's previous one (the recorder merges Events
	// that differ only in their note).
	controller := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: owner.APIVersion, Kind: owner.Kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: owner.Name, UID: owner.UID},
	}
	e.Recorder.Eventf(controller, pod, eventtype, reason, eventAction, "pods from pod/%s on: %s", pod.Name, note)
	return reconcile.Result{}, nil
}

// toldOwners remembers the last decision told on each controller. It is bounded: when
// it holds maxToldOwners controllers it starts afresh, which at worst repeats an Event.
type toldOwners struct {
	mu   sync.Mutex
	last map[types.UID]string
}

const maxToldOwners = 4096

// first reports whether note differs from the last one told on the controller uid, and
// records it.
func (t *toldOwners) first(uid types.UID, note string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last[uid] == note {
		return false
	}
	if t.last == nil || len(t.last) >= maxToldOwners {
		t.last = make(map[types.UID]string)
	}
	t.last[uid] = note
	return true
}

// placementEvent renders a decision record for `kubectl describe pod`; stranded says
// what happens to a pod no cluster could take (see strandedFate).
func placementEvent(r policy.Record, stranded string) (eventtype, reason, note string) {
	var b strings.Builder
	if r.Class != "" {
		fmt.Fprintf(&b, "class %s, ", r.Class)
	}
	fmt.Fprintf(&b, "bound %s (from %s), placement %s", r.Bound, r.Source, r.Placement)
	if r.Stranded() {
		fmt.Fprintf(&b, ": no cluster within the bound")
		if r.Reason != "" {
			fmt.Fprintf(&b, "; %s", r.Reason)
		}
		b.WriteString("; " + stranded)
		return corev1.EventTypeWarning, ReasonNoEligibleCluster, b.String()
	}
	b.WriteString(": may run on " + eligibleText(r))
	if r.Reason != "" {
		fmt.Fprintf(&b, "; %s", r.Reason)
	}
	return corev1.EventTypeNormal, ReasonPlaced, b.String()
}

// strandedFate says what happens to a pod admitted while no cluster qualified: its
// required node affinity matches no node and cannot change, so it is Pending until it is
// replaced — by the mover when a controller recreates it (unless a hint source said
// move: never, the record's Move), else by the user.
func strandedFate(owner *metav1.OwnerReference, move string) string {
	switch {
	case policy.NotRecreated(owner) != "":
		return "the pod stays Pending: delete and recreate it once a cluster qualifies (node affinity cannot change)"
	case move == string(policy.MoveNever):
		return "the pod stays Pending (kubexr.io/move: never): delete it once a cluster qualifies and its " + owner.Kind + " recreates it"
	}
	return "xr-webhook replaces the pod (its " + owner.Kind + " recreates it) as soon as a cluster qualifies"
}

// eligibleText lists where a decision lets a pod run: "local nodes, athens (4ms), 2 more".
func eligibleText(r policy.Record) string {
	var where []string
	if r.Local {
		where = append(where, "local nodes")
	}
	for _, c := range r.Eligible {
		where = append(where, c.ID+" ("+c.RTT+")")
	}
	if r.More > 0 {
		where = append(where, fmt.Sprintf("%d more", r.More))
	}
	if len(where) == 0 {
		return "nothing"
	}
	return strings.Join(where, ", ")
}
