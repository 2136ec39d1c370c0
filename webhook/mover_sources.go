package webhook

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubexr/kubectl-xr/policy"
)

// What triggers the mover: a placed pod's change, and every new measurement snapshot
// (which may take a running pod's cluster out of its bound without the pod changing).

// Pod cache indexes of the mover.
const (
	// controllerUIDIndex: pods by their controller's UID, to see a replacement Ready.
	controllerUIDIndex = "kubexr.io/controller-uid"
	// placedNodeIndex: placed pods (with a decision record) by node name, "" while
	// unscheduled, to re-judge the pods of every virtual node on each new snapshot.
	placedNodeIndex = "kubexr.io/placed-node"
)

func indexPods(ctx context.Context, idx client.FieldIndexer) error {
	err := idx.IndexField(ctx, &corev1.Pod{}, controllerUIDIndex, func(o client.Object) []string {
		if owner := metav1.GetControllerOfNoCopy(o); owner != nil {
			return []string{string(owner.UID)}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index pods by controller: %w", err)
	}
	err = idx.IndexField(ctx, &corev1.Pod{}, placedNodeIndex, func(o client.Object) []string {
		if _, placed := o.GetAnnotations()[policy.AnnotationDecision]; placed {
			return []string{o.(*corev1.Pod).Spec.NodeName}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index pods by node: %w", err)
	}
	return nil
}

// placed selects pods carrying a decision record: the only ones the mover judges.
var placed = predicate.NewPredicateFuncs(func(o client.Object) bool {
	_, ok := o.GetAnnotations()[policy.AnnotationDecision]
	return ok
})

// placedPodsOnChange is a source for the mover: after each publication it enqueues every
// placed pod on a virtual node of the new snapshot and every unscheduled placed pod, so
// running pods are re-judged whenever the measurements change.
func placedPodsOnChange(s *Store, c client.Reader) func(context.Context, workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
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
					// Only the keys are read: the cache's own objects, not a copy of
					// every placed pod on each publication.
					if err := c.List(ctx, &pods, client.MatchingFields{placedNodeIndex: node}, client.UnsafeDisableDeepCopy); err != nil {
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
