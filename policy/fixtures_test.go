package policy

import (
	"time"
)

// clusterWrapper builds Cluster fixtures: makeCluster("a").rtt(4ms).obj().
type clusterWrapper struct{ Cluster }

func makeCluster(id string) *clusterWrapper {
	return &clusterWrapper{Cluster{
		ID:         id,
		Nodes:      []string{id},
		NodeLabels: []map[string]string{{LiqoTypeLabel: LiqoTypeVirtualNode, LiqoRemoteClusterIDLabel: id}},
	}}
}

// rtt makes the cluster connected with a fresh sample of d.
func (w *clusterWrapper) rtt(d time.Duration) *clusterWrapper {
	w.Link = Tracker{State: LinkConnected, Smoothed: d, Effective: d, LastSample: t0, Samples: 1, Measuring: true}
	return w
}

func (w *clusterWrapper) state(s LinkState) *clusterWrapper { w.Link.State = s; return w }

func (w *clusterWrapper) sampledAt(at time.Time) *clusterWrapper { w.Link.LastSample = at; return w }

func (w *clusterWrapper) override(d time.Duration) *clusterWrapper { w.Override = d; return w }

func (w *clusterWrapper) label(k, v string) *clusterWrapper { w.NodeLabels[0][k] = v; return w }

func (w *clusterWrapper) obj() Cluster { return w.Cluster }

func inventory(clusters ...Cluster) *Inventory { return NewInventory(clusters, DefaultSmoothing()) }

func classHint(class string) Hint {
	c, _ := MustDefaultClassSet().Get(class)
	return Hint{Class: class, ClassMaxRTT: c.MaxRTT, Placement: PlacementAny, BoundSource: Source{Kind: "deployment", Name: "app"}}
}

func (h Hint) with(p Placement) Hint {
	h.Placement = p
	h.PlacementSource = Source{Kind: "pod", Name: "p"}
	return h
}

// offloadedToAll is a LocalAndRemote NamespaceOffloading with an empty selector.
func offloadedToAll(inv *Inventory) *Offloading {
	return &Offloading{Strategy: StrategyLocalAndRemote, Selected: inv.SelectClusters(emptySelector)}
}
