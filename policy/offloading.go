package policy

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// Liqo's podOffloadingStrategy values (NamespaceOffloading spec).
const (
	StrategyLocal          = "Local"
	StrategyRemote         = "Remote"
	StrategyLocalAndRemote = "LocalAndRemote"
)

// Offloading is what a namespace's Liqo NamespaceOffloading allows.
type Offloading struct {
	// Strategy is the podOffloadingStrategy ("" means Liqo's default, LocalAndRemote).
	Strategy string
	// Selected holds the clusters the clusterSelector selects, aligned with one
	// Inventory (see Inventory.SelectClusters).
	Selected ClusterSet
}

// ClusterSet is a set of clusters of one Inventory, one bit per cluster position.
type ClusterSet struct {
	bits []uint64
}

// Has reports whether the cluster at inventory position i is in the set.
func (s ClusterSet) Has(i int) bool {
	w := i / 64
	return w < len(s.bits) && s.bits[w]&(1<<(uint(i)%64)) != 0
}

func (s *ClusterSet) add(i int) { s.bits[i/64] |= 1 << (uint(i) % 64) }

// SelectClusters returns the clusters a NamespaceOffloading's clusterSelector selects:
// as Liqo does, the selector is matched against each virtual node's labels with the
// scheduler's NodeSelector semantics, and an empty selector selects every cluster.
func (inv *Inventory) SelectClusters(selector corev1.NodeSelector) ClusterSet {
	set := ClusterSet{bits: make([]uint64, (len(inv.clusters)+63)/64)}
	if len(selector.NodeSelectorTerms) == 0 {
		for i := range inv.clusters {
			set.add(i)
		}
		return set
	}
	// Compiled once, not per node: compiling validates every value of the selector, and
	// a selector naming each peer (In [id…]) made that quadratic in peers — 12 700
	// allocations per admission at 100 peers (TestPodHandlerAgainstLiqos).
	compiled := nodeaffinity.NewLazyErrorNodeSelector(&selector)
	var node corev1.Node
	for i := range inv.clusters {
		for j, lbls := range inv.clusters[i].NodeLabels {
			node.Labels, node.Name = lbls, ""
			if j < len(inv.clusters[i].Nodes) {
				node.Name = inv.clusters[i].Nodes[j]
			}
			if ok, _ := compiled.Match(&node); ok {
				set.add(i)
				break
			}
		}
	}
	return set
}
