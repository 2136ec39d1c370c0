package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// FieldOwner is the field manager of the observer's node labels.
const FieldOwner = "xr-webhook"

// Options configure Setup. The zero value is production's.
type Options struct {
	// Smoothing defaults to policy.DefaultSmoothing().
	Smoothing *policy.SmoothingParams
	// Clock defaults to the real clock.
	Clock clock.PassiveClock
	// Metrics defaults to series on controller-runtime's registry (served on /metrics).
	Metrics *Metrics
	// MovesPerMinute caps the mover's evictions in any minute (default 10).
	MovesPerMinute int
	// LeaderElection elects the replica that runs the mover, the placement Events and
	// the node labels; nil runs them in this process unconditionally (one replica).
	// The manager itself must run without leader election: losing the lease must not
	// stop the admission server.
	LeaderElection *LeaderElection
}

// CacheOptions narrow the manager's caches to what xr-webhook reads: only virtual
// Nodes are cached whole; owners and namespaces are read as metadata only; only the
// pods it placed (label kubexr.io/placed) are cached, each with only its metadata, node
// name, phase and conditions (slimPod). Selecting by label matters most: a cache of
// every pod holds each one whole while it is listed, before the transform runs.
func CacheOptions() cache.Options {
	virtual := labels.SelectorFromSet(labels.Set{policy.LiqoTypeLabel: policy.LiqoTypeVirtualNode})
	placedPods := labels.SelectorFromSet(labels.Set{policy.LabelPlaced: "true"})
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Node{}: {Label: virtual},
		&corev1.Pod{}:  {Label: placedPods, Transform: slimPod},
	}}
}

// slimPod keeps what the mover and the placement Events read of a pod — metadata
// without managedFields, spec.nodeName, status.phase and status.conditions — so the
// cache of every pod in the cluster stays small. Nothing may read other pod fields
// from the manager's cache.
func slimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil // a deletion tombstone
	}
	pod.ManagedFields = nil
	pod.Spec = corev1.PodSpec{NodeName: pod.Spec.NodeName}
	pod.Status = corev1.PodStatus{Phase: pod.Status.Phase, Conditions: pod.Status.Conditions}
	return pod, nil
}

// Webhook is xr-webhook wired into a manager.
type Webhook struct {
	Store   *Store
	Metrics *Metrics

	placer    *PodPlacer
	validator *HintValidator
	server    atomic.Pointer[webhook.Server]
	isLeader  func() bool
	drain     drainer
}

// PodHandler is the pod placement handler the webhook server serves at MutatePodPath,
// for callers that measure it without the HTTP and TLS around it (benchmarks).
func (w *Webhook) PodHandler() admission.Handler { return w.placer }

// Leading says whether this replica runs the leader-only work now.
func (w *Webhook) Leading() bool { return w.isLeader() }

// Setup registers the observer, the placement events controller and the readiness
// check. The admission handlers are served once Serve is called (after certificates
// exist). The manager's cache must be built with CacheOptions.
func Setup(ctx context.Context, mgr manager.Manager, opts Options) (*Webhook, error) {
	params := policy.DefaultSmoothing()
	if opts.Smoothing != nil {
		params = *opts.Smoothing
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	m := opts.Metrics
	if m == nil {
		m = NewMetrics(metrics.Registry)
	}
	w := &Webhook{Store: NewStore(), Metrics: m}

	// Start the metadata informers with the cache, so the first admission does not wait
	// for one to be created and synced.
	for _, gvk := range append(xrkube.WorkloadGVKs(), corev1.SchemeGroupVersion.WithKind("Namespace")) {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(gvk)
		if _, err := mgr.GetCache().GetInformer(ctx, meta); err != nil {
			return nil, fmt.Errorf("informer for %s: %w", gvk.Kind, err)
		}
	}
	if _, err := mgr.GetCache().GetInformer(ctx, &offloadingv1beta1.NamespaceOffloading{}); err != nil {
		return nil, fmt.Errorf("informer for NamespaceOffloading: %w", err)
	}

	var leader *leaderLoop
	isLeader := func() bool { return true }
	if opts.LeaderElection != nil {
		var err error
		if leader, err = newLeaderLoop(mgr.GetConfig(), *opts.LeaderElection); err != nil {
			return nil, err
		}
		isLeader = leader.IsLeader
	}
	w.isLeader = isLeader
	observer := &Observer{Client: mgr.GetClient(), Store: w.Store, Metrics: m, Params: params,
		Clock: clk, IsLeader: isLeader, Recorder: mgr.GetEventRecorder(FieldOwner)}
	toInventory := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{inventoryKey}
	})
	// One event at start: the inventory is published even when nothing is peered yet.
	initial := make(chan event.GenericEvent, 1)
	initial <- event.GenericEvent{Object: &corev1.Node{}}
	err := builder.ControllerManagedBy(mgr).
		Named("latency-observer").
		WatchesRawSource(source.Kind(mgr.GetCache(), client.Object(&networkingv1beta1.Connection{}), toInventory)).
		WatchesRawSource(source.Kind(mgr.GetCache(), client.Object(&corev1.Node{}), toInventory)).
		WatchesRawSource(source.Kind(mgr.GetCache(), client.Object(&xrv1.LatencyClass{}), toInventory)).
		WatchesRawSource(source.Channel(initial, toInventory)).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false), MaxConcurrentReconciles: 1}).
		Complete(observer)
	if err != nil {
		return nil, fmt.Errorf("latency observer: %w", err)
	}

	if err := indexPods(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	events := &PlacementEvents{Client: mgr.GetCache(), Recorder: mgr.GetEventRecorder(FieldOwner)}
	eval := evaluator{Meta: xrkube.MetadataReader{Reader: mgr.GetCache(), Fallback: mgr.GetAPIReader()},
		Cache: mgr.GetCache(), Clock: clk, offloadings: &offloadingCache{}}
	movesPerMinute := opts.MovesPerMinute
	if movesPerMinute <= 0 {
		movesPerMinute = defaultMovesPerMin
	}
	cs, err := kubernetes.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("mover: %w", err)
	}
	mover := NewMover(eval, mgr.GetClient(), cs.CoreV1().RESTClient(), w.Store, mgr.GetEventRecorder(FieldOwner), m, movesPerMinute)
	terms := []func(context.Context) error{
		func(ctx context.Context) error {
			return runController(ctx, "placement-events", events,
				source.Kind(mgr.GetCache(), client.Object(&corev1.Pod{}), &handler.EnqueueRequestForObject{}, CreatedSince(time.Now())))
		},
		func(ctx context.Context) error {
			return runController(ctx, "mover", mover,
				source.Kind(mgr.GetCache(), client.Object(&corev1.Pod{}), &handler.EnqueueRequestForObject{}, placed),
				source.Func(placedPodsOnChange(w.Store, mgr.GetCache())))
		},
	}
	if leader != nil {
		leader.terms = terms
		if err := mgr.Add(leader); err != nil {
			return nil, fmt.Errorf("leader election: %w", err)
		}
	} else {
		for _, term := range terms {
			if err := mgr.Add(manager.RunnableFunc(term)); err != nil {
				return nil, err
			}
		}
	}

	w.placer = &PodPlacer{Decoder: admission.NewDecoder(mgr.GetScheme()), evaluator: eval, Store: w.Store, Metrics: m}
	w.validator = &HintValidator{Store: w.Store, Metrics: m}
	if err := mgr.AddReadyzCheck("inventory-and-webhooks", w.ready); err != nil {
		return nil, fmt.Errorf("readyz: %w", err)
	}
	return w, nil
}

// runController runs a leader-only controller for one leadership term: a new unmanaged
// controller each term, since a controller starts only once.
func runController(ctx context.Context, name string, r reconcile.Reconciler, sources ...source.Source) error {
	c, err := controller.NewUnmanaged(name, controller.Options{Reconciler: r, SkipNameValidation: ptr.To(true)})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, src := range sources {
		if err := c.Watch(src); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return c.Start(ctx)
}

// Serve registers the admission handlers on the manager's webhook server, which starts
// serving then (with the certificates in its CertDir, reloaded when they rotate).
func (w *Webhook) Serve(mgr manager.Manager) {
	srv := mgr.GetWebhookServer()
	srv.Register(MutatePodPath, w.drain.wrap(&admission.Webhook{Handler: w.placer}))
	srv.Register(ValidateHintsPath, w.drain.wrap(&admission.Webhook{Handler: w.validator}))
	w.server.Store(&srv)
}

// ready: caches synced and inventory published (the observer runs only after its caches
// synced), and the webhook server started.
func (w *Webhook) ready(req *http.Request) error {
	if !w.Store.Loaded() {
		return errNotLoaded
	}
	if w.Draining() {
		return errors.New("stopping: draining connections")
	}
	srv := w.server.Load()
	if srv == nil {
		return errors.New("admission handlers not served yet (waiting for certificates)")
	}
	return (*srv).StartedChecker()(req)
}

// NewScheme has every type xr-webhook reads: core, Liqo's Connection and
// NamespaceOffloading, and LatencyClass.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(networkingv1beta1.AddToScheme(s))
	utilruntime.Must(offloadingv1beta1.AddToScheme(s))
	utilruntime.Must(xrv1.AddToScheme(s))
	return s
}
