package capipeer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubexr/kubectl-xr/internal/peering"
)

// Names this controller writes.
const (
	// FieldOwner is its field manager, its Events' reporter and its ForeignClusters'
	// peering.AnnotationManagedBy.
	FieldOwner = "xr-capi-peerer"
	// ConditionPeered on the Cluster (design brief).
	ConditionPeered = "kubexr.io/Peered"
	// Finalizer keeps a peered Cluster until its peering is removed.
	Finalizer = "kubexr.io/peering"
	// AnnotationClusterID on the Cluster records the provider's Liqo cluster id before the
	// peering starts, so that it can be unpeered even if this controller stopped halfway
	// and the provider is gone.
	AnnotationClusterID = "kubexr.io/liqo-cluster-id"
	// DefaultSelector selects the Clusters to peer (design brief).
	DefaultSelector = "kubexr.io/peer=true"
)

// Recorder is the part of the events.k8s.io recorder (manager.GetEventRecorder) used here.
type Recorder interface {
	Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// Reconciler peers and unpeers one Cluster at a time; the controller runs several at once,
// so a slow or failing Cluster never holds back another.
type Reconciler struct {
	// Client reads Clusters from the manager's cache and writes them.
	Client client.Client
	// Secrets reads <cluster>-kubeconfig Secrets straight from the API server: they are
	// never cached, listed or watched.
	Secrets client.Reader
	// Consumer is the Liqo consumer cluster (the management cluster itself when Local is
	// its in-cluster config) and ConsumerClient its client.
	Consumer       *rest.Config
	ConsumerClient client.Client
	Scheme         *runtime.Scheme
	Selector       labels.Selector
	// Namespaces are the namespaces watched; empty means every namespace.
	Namespaces []string
	Peering    peering.Options
	// UnpeerTimeout bounds one try at a two-sided unpeering of a deleted Cluster before
	// its consumer side is removed alone (the provider may be stopping already).
	UnpeerTimeout time.Duration
	// Resync re-checks a peered Cluster this often (it is idempotent and cheap).
	Resync   time.Duration
	Recorder Recorder
	Metrics  *Metrics
	Now      func() time.Time
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Selected: the Cluster is in a watched namespace, matches the selector and is not being
// deleted.
func (r *Reconciler) Selected(c *clusterv1.Cluster) bool {
	if len(r.Namespaces) > 0 && !slices.Contains(r.Namespaces, c.Namespace) {
		return false
	}
	return c.DeletionTimestamp == nil && r.Selector.Matches(labels.Set(c.Labels))
}

// Reconcile peers a selected Cluster once it is ready and unpeers one that is not selected
// any more, removing its finalizer once the peering is gone.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	c := &clusterv1.Cluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, c); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if r.Selected(c) {
		return r.peer(ctx, c)
	}
	if !controllerutil.ContainsFinalizer(c, Finalizer) {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{}, r.unpeer(ctx, c)
}

func (r *Reconciler) peer(ctx context.Context, c *clusterv1.Cluster) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(c, Finalizer) {
		// First the finalizer: from now on a deletion waits for the unpeering.
		return reconcile.Result{}, r.patchMeta(ctx, c, func() { controllerutil.AddFinalizer(c, Finalizer) })
	}
	opts, errs := ClusterOptions(c.Annotations, r.Peering)
	if len(errs) > 0 {
		// Not retried: the annotations' next change brings the Cluster back.
		msg := errs.ToAggregate().Error()
		r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, ReasonInvalidOptions, "Peer", "%s", msg)
		return reconcile.Result{}, r.setPeered(ctx, c, metav1.ConditionFalse, ReasonInvalidOptions, msg)
	}
	if why := peering.ClusterReady(c); why != "" {
		// Cluster API updates the Cluster as it progresses: that update brings it back.
		return reconcile.Result{}, r.setPeered(ctx, c, metav1.ConditionFalse, ReasonWaitingForCluster, why)
	}
	key := client.ObjectKeyFromObject(c)
	remote, err := peering.ClusterRESTConfig(ctx, r.Secrets, key)
	if err != nil {
		return reconcile.Result{}, r.failed(ctx, c, ReasonKubeconfigUnusable, err)
	}
	p := r.peering(remote, opts)
	id, err := p.RemoteClusterID(ctx)
	if err != nil {
		return reconcile.Result{}, r.failed(ctx, c, ReasonPeeringFailed, err)
	}
	if c.Annotations[AnnotationClusterID] != string(id) {
		if err := r.patchMeta(ctx, c, func() { metav1.SetMetaDataAnnotation(&c.ObjectMeta, AnnotationClusterID, string(id)) }); err != nil {
			return reconcile.Result{}, err
		}
	}
	already, err := p.Peer(ctx, id, map[string]string{
		peering.AnnotationCAPICluster: key.String(), peering.AnnotationManagedBy: FieldOwner})
	if err != nil {
		return reconcile.Result{}, r.failed(ctx, c, ReasonPeeringFailed, err)
	}
	if !already {
		r.Metrics.Peerings.WithLabelValues("peered").Inc()
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, ReasonPeered, "Peer", "peered with the Liqo consumer as cluster %s", id)
		logf.FromContext(ctx).Info("peered", "clusterID", id)
	}
	if err := r.setPeered(ctx, c, metav1.ConditionTrue, ReasonPeered, fmt.Sprintf("peered as Liqo cluster %s", id)); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: r.Resync}, nil
}

// failed records a failed peering (condition, Event, counter) and returns err, so the
// Cluster is retried with the controller's backoff.
func (r *Reconciler) failed(ctx context.Context, c *clusterv1.Cluster, reason string, err error) error {
	r.Metrics.Peerings.WithLabelValues("failed").Inc()
	r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, reason, "Peer", "%s", err.Error())
	if cerr := r.setPeered(ctx, c, metav1.ConditionFalse, reason, err.Error()); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}

// unpeer removes the peering of a Cluster that is deleted or no longer selected. A Cluster
// still there (unlabelled) is unpeered on both sides, retried until it works. A deleted
// one is tried on both sides once, then its consumer side is removed alone: Cluster API
// stops the workload cluster while this runs, and its provider side goes with it.
func (r *Reconciler) unpeer(ctx context.Context, c *clusterv1.Cluster) error {
	id := liqov1beta1.ClusterID(c.Annotations[AnnotationClusterID])
	deleting := c.DeletionTimestamp != nil
	result := "unpeered"
	if id != "" {
		peered, err := r.hasPeering(ctx, id)
		if err != nil {
			return err
		}
		if peered {
			err := r.unpeerBothSides(ctx, c, id)
			if err != nil && deleting {
				logf.FromContext(ctx).Info("the provider cannot be unpeered, removing the consumer's side alone", "clusterID", id, "reason", err.Error())
				result, err = "forgotten", r.forget(ctx, id)
			}
			if err == nil {
				err = peering.DeleteForeignCluster(ctx, r.ConsumerClient, id)
			}
			if err != nil {
				r.Metrics.Unpeerings.WithLabelValues("failed").Inc()
				r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, ReasonUnpeeringFailed, "Unpeer", "%s", err.Error())
				if !deleting {
					err = errors.Join(err, r.setPeered(ctx, c, metav1.ConditionFalse, ReasonUnpeeringFailed, err.Error()))
				}
				return err
			}
			r.Metrics.Unpeerings.WithLabelValues(result).Inc()
			r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, ReasonUnpeered, "Unpeer", "unpeered Liqo cluster %s (%s)", id, result)
			logf.FromContext(ctx).Info("unpeered", "clusterID", id, "how", result)
		}
	}
	if !deleting {
		msg := "not selected for peering"
		if id != "" {
			msg = fmt.Sprintf("not selected for peering; Liqo cluster %s unpeered", id)
		}
		if err := r.setPeered(ctx, c, metav1.ConditionFalse, ReasonUnpeered, msg); err != nil {
			return err
		}
	}
	return r.patchMeta(ctx, c, func() {
		controllerutil.RemoveFinalizer(c, Finalizer)
		if !deleting {
			delete(c.Annotations, AnnotationClusterID)
		}
	})
}

// forget removes the consumer's side of a deleted Cluster's peering, within the peering
// timeout (a finalizer that never clears must not hold a worker for good).
func (r *Reconciler) forget(ctx context.Context, id liqov1beta1.ClusterID) error {
	if r.Peering.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Peering.Timeout)
		defer cancel()
	}
	return peering.Forget(ctx, r.ConsumerClient, id)
}

// hasPeering: the consumer still holds a ForeignCluster for id.
func (r *Reconciler) hasPeering(ctx context.Context, id liqov1beta1.ClusterID) (bool, error) {
	fc := &liqov1beta1.ForeignCluster{}
	err := r.ConsumerClient.Get(ctx, client.ObjectKey{Name: string(id)}, fc)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (r *Reconciler) unpeerBothSides(ctx context.Context, c *clusterv1.Cluster, id liqov1beta1.ClusterID) error {
	remote, err := peering.ClusterRESTConfig(ctx, r.Secrets, client.ObjectKeyFromObject(c))
	if err != nil {
		return err
	}
	p := r.peering(remote, r.Peering)
	if c.DeletionTimestamp != nil && r.UnpeerTimeout > 0 {
		p.Timeout = r.UnpeerTimeout
	}
	return p.Unpeer(ctx, id)
}

func (r *Reconciler) peering(remote *rest.Config, o peering.Options) *peering.Peering {
	if o.Log == nil {
		o.Log = io.Discard
	}
	return &peering.Peering{Local: r.Consumer, Remote: remote, Scheme: r.Scheme, Options: o}
}

// patchMeta changes the Cluster's metadata with a merge patch that fails on a conflict
// (finalizers are a list: another writer's change must not be overwritten); on a conflict
// (Cluster API writes the Cluster often) it reads the Cluster again and retries.
func (r *Reconciler) patchMeta(ctx context.Context, c *clusterv1.Cluster, change func()) error {
	first := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			if err := r.Client.Get(ctx, client.ObjectKeyFromObject(c), c); err != nil {
				return err
			}
		}
		first = false
		patch := client.MergeFromWithOptions(c.DeepCopy(), client.MergeFromWithOptimisticLock{})
		change()
		return r.Client.Patch(ctx, c, patch)
	})
	if err != nil {
		return fmt.Errorf("update Cluster %s: %w", client.ObjectKeyFromObject(c), err)
	}
	return nil
}
