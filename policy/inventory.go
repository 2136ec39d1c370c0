package policy

import (
	"cmp"
	"slices"
	"time"
)

// Cluster is one peered remote cluster as the decision sees it.
type Cluster struct {
	ID string
	// Link is the smoothing state fed from Liqo's Connection.
	Link Tracker
	// Override is an operator's RTT (kubexr.io/rtt-override on a virtual node; the
	// largest if several disagree). When set it wins over measurements: the cluster is
	// treated as connected, fresh and at this RTT.
	Override time.Duration
	// NodeLabels are the labels of each of the cluster's virtual nodes, for matching a
	// NamespaceOffloading's clusterSelector as Liqo does.
	NodeLabels []map[string]string
	// Nodes are the virtual node names, for display.
	Nodes []string
	// NotReady: none of the cluster's virtual nodes is Ready (Liqo's virtual kubelet
	// reports the remote cluster unreachable or short of resources); it takes no pods.
	NotReady bool
}

// RTT is the round-trip time decisions use, and whether there is one.
func (c *Cluster) RTT() (time.Duration, bool) {
	if c.Override > 0 {
		return c.Override, true
	}
	return c.Link.Effective, c.Link.HasRTT()
}

// Ineligibility says why a cluster cannot take bounded pods now ("" if it can).
func (c *Cluster) Ineligibility(now time.Time, p SmoothingParams) string {
	switch {
	case c.NotReady:
		return "virtual node NotReady"
	case c.Override > 0:
		return ""
	case c.Link.Samples == 0:
		return "no latency data (no Liqo Connection)"
	case c.Link.State != LinkConnected:
		return "connection " + string(c.Link.State)
	case !c.Link.HasRTT() || !c.Link.Measuring:
		return "latency N/A"
	case now.Sub(c.Link.LastSample) > p.StaleAfter:
		return "latency data stale (last " + now.Sub(c.Link.LastSample).Round(time.Second).String() + " ago)"
	}
	return ""
}

// TightestClass is the tightest class the cluster meets now, and false if it meets none.
// A cluster that cannot take bounded pods (see Ineligibility) meets only unbounded classes.
func (c *Cluster) TightestClass(classes ClassSet, now time.Time, p SmoothingParams) (Class, bool) {
	rtt, ok := c.RTT()
	if !ok || c.Ineligibility(now, p) != "" {
		rtt = time.Duration(1<<63 - 1)
	}
	return classes.TightestMet(rtt)
}

// Inventory is an immutable snapshot of the peered clusters, ordered by decision RTT
// (clusters without an RTT last, then by id), so a decision scans only a prefix.
type Inventory struct {
	clusters []Cluster
	// scan mirrors clusters with just what a decision reads, packed for a fast scan.
	scan   []scanEntry
	params SmoothingParams
}

type scanEntry struct {
	rtt    time.Duration
	hasRTT bool
	// healthy: overridden, or connected and measuring; fresh is then checked against now.
	healthy, overridden bool
	last                int64 // last sample, Unix nanoseconds
}

// NewInventory takes ownership of clusters and orders them.
func NewInventory(clusters []Cluster, p SmoothingParams) *Inventory {
	slices.SortFunc(clusters, func(a, b Cluster) int {
		ra, oka := a.RTT()
		rb, okb := b.RTT()
		if oka != okb {
			if oka {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(ra, rb); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	scan := make([]scanEntry, len(clusters))
	for i := range clusters {
		c := &clusters[i]
		rtt, ok := c.RTT()
		scan[i] = scanEntry{rtt: rtt, hasRTT: ok, overridden: c.Override > 0,
			healthy: !c.NotReady && (c.Override > 0 || (c.Link.State == LinkConnected && c.Link.HasRTT() && c.Link.Measuring)),
			last:    c.Link.LastSample.UnixNano()}
	}
	return &Inventory{clusters: clusters, scan: scan, params: p}
}

// Len is the number of clusters.
func (inv *Inventory) Len() int { return len(inv.clusters) }

// Clusters returns the clusters in decision order. Callers must not modify them.
func (inv *Inventory) Clusters() []Cluster { return inv.clusters }

// Params are the smoothing parameters the snapshot was built with.
func (inv *Inventory) Params() SmoothingParams { return inv.params }

// Get returns the cluster with id.
func (inv *Inventory) Get(id string) (*Cluster, bool) {
	for i := range inv.clusters {
		if inv.clusters[i].ID == id {
			return &inv.clusters[i], true
		}
	}
	return nil, false
}
