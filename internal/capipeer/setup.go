package capipeer

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/kubexr/kubectl-xr/internal/peering"
)

// NewScheme has what xr-capi-peerer reads and writes: Cluster API's Cluster, Secrets,
// Events and Liqo's APIs (for liqoctl's peering code).
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(peering.AddToScheme(s))
	return s
}

// CacheOptions cache only Clusters, and only in namespaces when some are given. Secrets
// are never cached: Reconciler.Secrets reads the one it needs.
func CacheOptions(namespaces []string) cache.Options {
	o := cache.Options{ByObject: map[client.Object]cache.ByObject{}}
	if len(namespaces) > 0 {
		o.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return o
}

// Setup registers the reconciler with mgr, running workers Clusters at once.
func Setup(mgr manager.Manager, r *Reconciler, workers int) error {
	err := builder.ControllerManagedBy(mgr).Named("capi-peering").
		For(&clusterv1.Cluster{}, builder.WithPredicates(relevantChange())).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
	if err != nil {
		return fmt.Errorf("capi-peering controller: %w", err)
	}
	return nil
}

// relevantChange passes the Cluster updates that can change what to do: Cluster API
// rewrites a Cluster's status often (its probes' conditions), and each pass of a peered
// Cluster talks to the workload cluster.
func relevantChange() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*clusterv1.Cluster)
		cur, okNew := e.ObjectNew.(*clusterv1.Cluster)
		if !okOld || !okNew {
			return true
		}
		return !equality.Semantic.DeepEqual(old.Labels, cur.Labels) ||
			!equality.Semantic.DeepEqual(old.Annotations, cur.Annotations) ||
			!equality.Semantic.DeepEqual(old.Finalizers, cur.Finalizers) ||
			(old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil) ||
			peering.ClusterReady(old) != peering.ClusterReady(cur) ||
			conditionStatus(old) != conditionStatus(cur)
	}}
}

// conditionStatus is the Cluster's kubexr.io/Peered status: a change by someone else
// (or its removal) is put right.
func conditionStatus(c *clusterv1.Cluster) string {
	if cond := meta.FindStatusCondition(c.Status.Conditions, ConditionPeered); cond != nil {
		return string(cond.Status) + "/" + cond.Reason
	}
	return ""
}
