package webhook

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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

// PlacementEvents explains each placement with an Event on the pod. It runs after the
// pod exists because at admission a pod made from generateName has no name to attach an
// Event to. Only the leader runs it, so each pod gets one Event.
type PlacementEvents struct {
	Client   client.Reader
	Recorder Recorder
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

// Reconcile emits the Event of one pod's decision.
func (e *PlacementEvents) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	pod := &metav1.PartialObjectMetadata{}
	pod.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	if err := e.Client.Get(ctx, req.NamespacedName, pod); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	rec, err := policy.ParseRecord(pod.Annotations[policy.AnnotationDecision])
	if err != nil {
		// Someone else's value in our annotation: nothing to explain, nothing to retry.
		logf.FromContext(ctx).Info("pod decision annotation is not a decision record", "error", err.Error())
		return reconcile.Result{}, nil
	}
	eventtype, reason, note := placementEvent(rec)
	e.Recorder.Eventf(pod, nil, eventtype, reason, eventAction, "%s", note)
	return reconcile.Result{}, nil
}

// placementEvent renders a decision record for `kubectl describe pod`.
func placementEvent(r policy.Record) (eventtype, reason, note string) {
	var b strings.Builder
	if r.Class != "" {
		fmt.Fprintf(&b, "class %s, ", r.Class)
	}
	fmt.Fprintf(&b, "bound %s (from %s), placement %s", r.Bound, r.Source, r.Placement)
	eligible := r.Local || len(r.Eligible) > 0
	if !eligible {
		fmt.Fprintf(&b, ": no cluster within the bound")
		if r.Reason != "" {
			fmt.Fprintf(&b, "; %s", r.Reason)
		}
		b.WriteString("; the pod stays Pending until a cluster qualifies")
		return corev1.EventTypeWarning, ReasonNoEligibleCluster, b.String()
	}
	b.WriteString(": may run on ")
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
	b.WriteString(strings.Join(where, ", "))
	if r.Reason != "" {
		fmt.Fprintf(&b, "; %s", r.Reason)
	}
	return corev1.EventTypeNormal, ReasonPlaced, b.String()
}
