package policy

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
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
	for i := range inv.clusters {
		if len(selector.NodeSelectorTerms) == 0 {
			set.add(i)
			continue
		}
		for j, lbls := range inv.clusters[i].NodeLabels {
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: lbls}}
			if j < len(inv.clusters[i].Nodes) {
				node.Name = inv.clusters[i].Nodes[j]
			}
			if ok, _ := corev1helpers.MatchNodeSelectorTerms(node, &selector); ok {
				set.add(i)
				break
			}
		}
	}
	return set
}
