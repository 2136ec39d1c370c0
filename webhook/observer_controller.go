package webhook

import (
	"context"
	"fmt"
	"sync"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// inventoryKey is the single work item of the observer: every Connection, virtual node or
// LatencyClass change rebuilds the whole inventory, and the queue coalesces bursts.
var inventoryKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "inventory"}}

// resyncEvery re-runs the observer without events, so a cluster whose Connection stops
// being updated turns stale (and is relabelled) within this period of StaleAfter.
const resyncEvery = 5 * time.Second

// Observer keeps the smoothed inventory and the virtual nodes' class labels. It runs in
// every replica (each serves admissions from its own snapshot); only the leader writes
// node labels. Replicas see the same Connection samples, so their trackers agree.
type Observer struct {
	Client  client.Client
	Store   *Store
	Metrics *Metrics
	Params  policy.SmoothingParams
	Clock   clock.PassiveClock
	// IsLeader says whether this replica may write node labels and Events now.
	IsLeader func() bool

	mu       sync.Mutex
	trackers map[string]policy.Tracker
	// published remembers the metric label values set, to delete them when they change.
	published map[string]string
	// Recorder, if set, gets a Warning Event on each malformed LatencyClass.
	Recorder Recorder
	// warned is the text of the malformed classes last warned about, so a class is
	// warned about when it turns malformed or its error changes, not on every resync.
	warned map[string]string
}

// Reconcile rebuilds the inventory from the caches and publishes it. It is idempotent
// and ignores which object changed.
func (o *Observer) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	log := logf.FromContext(ctx)
	var lcs xrv1.LatencyClassList
	if err := o.Client.List(ctx, &lcs); err != nil {
		return reconcile.Result{}, fmt.Errorf("list LatencyClasses: %w", err)
	}
	classes, err := xrkube.ClassSet(lcs.Items)
	if err != nil {
		log.Error(err, "ignoring malformed LatencyClasses")
	}
	o.warnMalformed(lcs.Items, err)
	var nodes corev1.NodeList
	if err := o.Client.List(ctx, &nodes, client.MatchingLabels{policy.LiqoTypeLabel: policy.LiqoTypeVirtualNode}); err != nil {
		return reconcile.Result{}, fmt.Errorf("list virtual nodes: %w", err)
	}
	var conns networkingv1beta1.ConnectionList
	if err := o.Client.List(ctx, &conns); err != nil {
		return reconcile.Result{}, fmt.Errorf("list Liqo Connections: %w", err)
	}
	var namespaces metav1.PartialObjectMetadataList
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := o.Client.List(ctx, &namespaces, xrkube.TenantSelector); err != nil {
		return reconcile.Result{}, fmt.Errorf("list Liqo tenant namespaces: %w", err)
	}
	byCluster, errs := xrkube.ClusterNodes(nodes.Items)
	for _, err := range errs {
		log.Error(err, "ignoring malformed RTT override")
	}

	clusters := o.observe(ctx, byCluster, conns.Items, xrkube.TenantsOf(namespaces.Items), classes)
	inv := policy.NewInventory(clusters, o.Params)
	o.Store.Publish(&Snapshot{Inventory: inv, Classes: classes})
	o.Metrics.InventoryClusters.Set(float64(inv.Len()))

	now := o.Clock.Now()
	labels := make(map[string]nodeMarks, inv.Len())
	for _, c := range inv.Clusters() {
		labels[c.ID] = marksFor(&c, classes, now, o.Params)
	}
	o.exportClusterMetrics(labels, inv)
	if o.isLeader() {
		if err := o.labelNodes(ctx, nodes.Items, labels); err != nil {
			return reconcile.Result{}, err
		}
	}
	return reconcile.Result{RequeueAfter: resyncEvery}, nil
}

// observe folds each cluster's newest Connection sample into its tracker and returns the
// clusters with their links. Trackers of clusters no longer peered are dropped.
func (o *Observer) observe(ctx context.Context, byCluster map[string]*policy.Cluster,
	conns []networkingv1beta1.Connection, tenants xrkube.Tenants, classes policy.ClassSet) []policy.Cluster {
	newest, errs := xrkube.NewestSamples(conns, tenants, o.Clock.Now())
	for _, err := range errs {
		logf.FromContext(ctx).Error(err, "ignoring Connection status")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.trackers == nil {
		o.trackers = map[string]policy.Tracker{}
	}
	out := make([]policy.Cluster, 0, len(byCluster))
	for id, c := range byCluster {
		t := o.trackers[id]
		if s, ok := newest[id]; ok {
			t = t.Observe(s, o.Params, classes)
		}
		o.trackers[id] = t
		c.Link = t
		out = append(out, *c)
	}
	for id := range o.trackers {
		if _, ok := byCluster[id]; !ok {
			delete(o.trackers, id)
		}
	}
	return out
}

// warnMalformed records a Warning Event on each LatencyClass ClassSet skipped, once per
// error (the leader only: one Event, not one per replica).
func (o *Observer) warnMalformed(items []xrv1.LatencyClass, err error) {
	if o.Recorder == nil || !o.isLeader() {
		return
	}
	malformed := xrkube.MalformedClasses(err)
	fallback := len(malformed) > 0 && len(malformed) == len(items)
	now := make(map[string]string, len(malformed))
	for _, m := range malformed {
		now[m.Name] = m.Err.Error()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range items {
		lc := &items[i]
		msg, bad := now[lc.Name]
		if !bad || o.warned[lc.Name] == msg {
			continue
		}
		note := msg + "; the class is ignored"
		if fallback {
			note = msg + "; no LatencyClass is usable, so the default classes apply"
		}
		o.Recorder.Eventf(lc, nil, corev1.EventTypeWarning, "XRMalformedLatencyClass", "Observe", "%s", note)
	}
	o.warned = now
}

func (o *Observer) isLeader() bool { return o.IsLeader != nil && o.IsLeader() }

// nodeMarks are the label and annotation the observer keeps on a cluster's virtual nodes
// ("" removes them).
type nodeMarks struct{ class, rtt string }

// marksFor: the tightest class the cluster meets now. A cluster without a usable RTT
// (no data, not connected, stale) meets only unbounded classes.
func marksFor(c *policy.Cluster, classes policy.ClassSet, now time.Time, p policy.SmoothingParams) nodeMarks {
	var m nodeMarks
	if shown, ok := smoothedRTT(c); ok {
		m.rtt = policy.FormatRTT(shown)
	}
	if cl, met := c.TightestClass(classes, now, p); met {
		m.class = cl.Name
	}
	return m
}

// smoothedRTT is the RTT shown to people (node annotation, metrics): the override, or the
// smoothed value rather than the decision RTT that hysteresis may hold at a bound.
func smoothedRTT(c *policy.Cluster) (time.Duration, bool) {
	if c.Override > 0 {
		return c.Override, true
	}
	return c.Link.Smoothed, c.Link.Smoothed > 0
}

// labelNodes writes the marks on every virtual node that does not carry them yet. A merge
// patch of metadata only: Liqo's virtual kubelet removes only labels it applied itself
// (liqoNodeProvider keeps lastAppliedLabels), so labels written here survive its updates.
func (o *Observer) labelNodes(ctx context.Context, nodes []corev1.Node, marks map[string]nodeMarks) error {
	for i := range nodes {
		n := &nodes[i]
		want, ok := marks[xrkube.VirtualNodeCluster(n)]
		if !ok {
			continue
		}
		if n.Labels[policy.LabelLatencyClass] == want.class && n.Annotations[policy.AnnotationRTT] == want.rtt {
			continue
		}
		patched := n.DeepCopy()
		setOrDelete(&patched.Labels, policy.LabelLatencyClass, want.class)
		setOrDelete(&patched.Annotations, policy.AnnotationRTT, want.rtt)
		if err := o.Client.Patch(ctx, patched, client.MergeFrom(n)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("label virtual node %s: %w", n.Name, err)
		}
		logf.FromContext(ctx).V(1).Info("labelled virtual node", "node", n.Name, "class", want.class, "rtt", want.rtt)
	}
	return nil
}

func setOrDelete(m *map[string]string, key, value string) {
	if value == "" {
		delete(*m, key)
		return
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[key] = value
}

// exportClusterMetrics sets the per-cluster series and deletes those of clusters gone or
// whose class changed.
func (o *Observer) exportClusterMetrics(marks map[string]nodeMarks, inv *policy.Inventory) {
	o.mu.Lock()
	defer o.mu.Unlock()
	prev := o.published
	o.published = make(map[string]string, len(marks))
	for id, m := range marks {
		o.published[id] = m.class
		if old, ok := prev[id]; ok && old != m.class {
			o.Metrics.ClusterClass.DeleteLabelValues(id, old)
		}
		if m.class != "" {
			o.Metrics.ClusterClass.WithLabelValues(id, m.class).Set(1)
		}
		c, _ := inv.Get(id)
		if rtt, ok := smoothedRTT(c); ok {
			o.Metrics.ClusterRTTSeconds.WithLabelValues(id).Set(rtt.Seconds())
		} else {
			o.Metrics.ClusterRTTSeconds.DeleteLabelValues(id)
		}
	}
	for id, old := range prev {
		if _, ok := marks[id]; !ok {
			o.Metrics.ClusterClass.DeleteLabelValues(id, old)
			o.Metrics.ClusterRTTSeconds.DeleteLabelValues(id)
		}
	}
}
