package xrkube

import (
	"fmt"
	"slices"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
)

// VirtualNodeCluster is the remote cluster id of a Liqo virtual node, or "" for any
// other node.
func VirtualNodeCluster(n *corev1.Node) string {
	if n.Labels[policy.LiqoTypeLabel] != policy.LiqoTypeVirtualNode {
		return ""
	}
	return n.Labels[policy.LiqoRemoteClusterIDLabel]
}

// NodeReady reports whether a node can take pods: its Ready condition is True, or it has
// none yet (a node just registered, before its kubelet's first status).
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return true
}

// ClusterNodes groups virtual nodes by remote cluster id: one policy.Cluster per peered
// cluster with its node names, labels and RTT override (the largest if several nodes
// disagree: the pessimistic one); NotReady when none of its nodes is Ready. Links are
// left empty for the caller's trackers. A malformed override is ignored and reported,
// naming the node.
func ClusterNodes(nodes []corev1.Node) (map[string]*policy.Cluster, []error) {
	out := map[string]*policy.Cluster{}
	var errs []error
	for i := range nodes {
		n := &nodes[i]
		id := VirtualNodeCluster(n)
		if id == "" {
			continue
		}
		c, ok := out[id]
		if !ok {
			c = &policy.Cluster{ID: id, NotReady: true}
			out[id] = c
		}
		c.NotReady = c.NotReady && !NodeReady(n)
		c.Nodes = append(c.Nodes, n.Name)
		c.NodeLabels = append(c.NodeLabels, n.Labels)
		if v, ok := n.Annotations[policy.AnnotationRTTOverride]; ok {
			d, err := policy.ParseOverride(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("node %s: %w", n.Name, err))
				continue
			}
			c.Override = max(c.Override, d)
		}
	}
	for _, c := range out {
		slices.Sort(c.Nodes)
	}
	return out, errs
}

// Observed builds the clusters as xr-webhook sees them, for one-shot readers (the plugin):
// each cluster's newest Connection status is its link state and freshness, and the RTT is
// the smoothed one xr-webhook's observer wrote on its virtual nodes (kubexr.io/rtt), or
// the Connection's raw sample where the observer has written none.
func Observed(nodes []corev1.Node, conns []networkingv1beta1.Connection, tenants Tenants, now time.Time,
	classes policy.ClassSet, p policy.SmoothingParams) []policy.Cluster {
	byCluster, _ := ClusterNodes(nodes)
	newest, _ := NewestSamples(conns, tenants, now)
	smoothed := map[string]time.Duration{}
	for i := range nodes {
		id := VirtualNodeCluster(&nodes[i])
		if d, err := policy.ParseOverride(nodes[i].Annotations[policy.AnnotationRTT]); id != "" && err == nil {
			smoothed[id] = max(smoothed[id], d)
		}
	}
	out := make([]policy.Cluster, 0, len(byCluster))
	for id, c := range byCluster {
		if s, ok := newest[id]; ok {
			c.Link = policy.Tracker{}.Observe(s, p, classes)
			if d, ok := smoothed[id]; ok && c.Link.Measuring {
				c.Link.Smoothed, c.Link.Effective = d, d
			}
		}
		out = append(out, *c)
	}
	return out
}

// Tenants maps each of Liqo's tenant namespaces (labelled liqo.io/tenant-namespace=true
// by Liqo) to the cluster it belongs to (its liqo.io/remote-cluster-id label).
type Tenants map[string]string

// TenantsOf reads the tenant namespaces among namespaces.
func TenantsOf(namespaces []metav1.PartialObjectMetadata) Tenants {
	out := Tenants{}
	for i := range namespaces {
		l := namespaces[i].Labels
		if l[liqoTenantNamespaceLabel] == "true" && l[policy.LiqoRemoteClusterIDLabel] != "" {
			out[namespaces[i].Name] = l[policy.LiqoRemoteClusterIDLabel]
		}
	}
	return out
}

// TenantSelector selects Liqo's tenant namespaces, for listing them.
var TenantSelector = client.HasLabels{liqoTenantNamespaceLabel}

// liqoTenantNamespaceLabel is Liqo v1.2.0's consts.TenantNamespaceLabel.
const liqoTenantNamespaceLabel = "liqo.io/tenant-namespace"

// NewestSamples is each cluster's newest Connection status as a smoothing sample (Liqo
// normally keeps one Connection per peering). Only a Connection in the cluster's own
// tenant namespace is trusted: anyone allowed to create Connections in a namespace of
// their own could otherwise report any RTT for any cluster. A sample stamped after now
// (a skewed or forged clock) counts as taken now, so it cannot keep the cluster fresh
// or hide the samples after it; so does one without a stamp, as Liqo's gateway writes a
// lost link (Error, N/A) — without this the Error was older than every sample and was
// ignored until the link went stale. Deleted Connections are skipped; a status that cannot be
// read or an untrusted Connection is skipped and reported.
func NewestSamples(conns []networkingv1beta1.Connection, tenants Tenants, now time.Time) (map[string]policy.Sample, []error) {
	newest := map[string]policy.Sample{}
	var errs []error
	for i := range conns {
		c := &conns[i]
		id := c.Labels[policy.LiqoRemoteClusterIDLabel]
		if id == "" || c.DeletionTimestamp != nil {
			continue
		}
		if tenants[c.Namespace] != id {
			errs = append(errs, fmt.Errorf("Connection %s/%s: not in cluster %s's Liqo tenant namespace; ignored", c.Namespace, c.Name, id))
			continue
		}
		s, err := policy.SampleFromStatus(string(c.Status.Value), c.Status.Latency.Value, c.Status.Latency.Timestamp.Time)
		if err != nil {
			errs = append(errs, fmt.Errorf("Connection %s/%s: %w", c.Namespace, c.Name, err))
			continue
		}
		if s.At.After(now) || (s.At.IsZero() && s.State != policy.LinkNoData) {
			// Liqo writes a lost link (Error, N/A) with no timestamp: it is news when read.
			// A status not written yet (a new Connection) is no report at all: were it
			// stamped now, the gateway's first report, stamped earlier, would be ignored.
			s.At = now
		}
		if prev, ok := newest[id]; !ok || s.At.After(prev.At) {
			newest[id] = s
		}
	}
	return newest, errs
}
