package webhook

import (
	"context"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubexr/kubectl-xr/policy"
)

// Snapshot is what a decision reads: immutable once published.
type Snapshot struct {
	Inventory *policy.Inventory
	Classes   policy.ClassSet
}

// Store holds the latest snapshot. The observer publishes; admissions load without locks.
type Store struct {
	current atomic.Pointer[Snapshot]
	// changed, when made by NewStore, receives a token on each publication (coalesced),
	// so the mover re-judges running pods whenever the measurements change.
	changed chan struct{}
}

// NewStore makes a Store whose publications can be followed with Changed.
func NewStore() *Store { return &Store{changed: make(chan struct{}, 1)} }

// Changed receives after publications; several publications may be coalesced into one.
func (s *Store) Changed() <-chan struct{} { return s.changed }

// Load returns the latest snapshot, or nil before the observer's first publication.
func (s *Store) Load() *Snapshot { return s.current.Load() }

// Publish replaces the snapshot.
func (s *Store) Publish(snap *Snapshot) {
	s.current.Store(snap)
	select {
	case s.changed <- struct{}{}:
	default: // a token is already pending, or nobody follows (nil channel)
	}
}

// Loaded reports whether a snapshot was published: until then no pod is admitted.
func (s *Store) Loaded() bool { return s.current.Load() != nil }

// placed selects pods carrying a decision record: the only ones the mover judges.
var placed = predicate.NewPredicateFuncs(func(o client.Object) bool {
	_, ok := o.GetAnnotations()[policy.AnnotationDecision]
	return ok
})

// placedPodsOnChange is a source for the mover: after each publication it enqueues every
// placed pod on a virtual node of the new snapshot and every unscheduled placed pod, so
// running pods are re-judged whenever the measurements change.
func (s *Store) placedPodsOnChange(c client.Reader) func(context.Context, workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	return func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-s.Changed():
				}
				snap := s.Load()
				nodes := []string{""}
				for _, c := range snap.Inventory.Clusters() {
					nodes = append(nodes, c.Nodes...)
				}
				for _, node := range nodes {
					var pods corev1.PodList
					if err := c.List(ctx, &pods, client.MatchingFields{placedNodeIndex: node}); err != nil {
						logf.FromContext(ctx).Error(err, "list placed pods", "node", node)
						continue
					}
					for i := range pods.Items {
						q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pods.Items[i])})
					}
				}
			}
		}()
		return nil
	}
}
