package webhook

import (
	"testing"

	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubexr/kubectl-xr/policy"
)

// The cache answers from memory only for the same snapshot and the same version of the
// NamespaceOffloading; any change of either is selected afresh.
func TestOffloadingCacheIsExactPerSnapshotAndVersion(t *testing.T) {
	inventory := func(ids ...string) *policy.Inventory {
		var clusters []policy.Cluster
		for _, id := range ids {
			clusters = append(clusters, policy.Cluster{ID: id, Nodes: []string{"vk-" + id},
				NodeLabels: []map[string]string{{policy.LiqoRemoteClusterIDLabel: id}}})
		}
		return policy.NewInventory(clusters, policy.DefaultSmoothing())
	}
	offloading := func(rv string, ids ...string) *offloadingv1beta1.NamespaceOffloading {
		return &offloadingv1beta1.NamespaceOffloading{ObjectMeta: metav1.ObjectMeta{Name: "offloading", Namespace: "xr", UID: "u1", ResourceVersion: rv},
			Spec: offloadingv1beta1.NamespaceOffloadingSpec{ClusterSelector: corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: policy.LiqoRemoteClusterIDLabel, Operator: corev1.NodeSelectorOpIn, Values: ids}}}}}}}
	}
	selects := func(off *policy.Offloading, inv *policy.Inventory) []string {
		var ids []string
		for i, c := range inv.Clusters() {
			if off.Selected.Has(i) {
				ids = append(ids, c.ID)
			}
		}
		return ids
	}
	c := &offloadingCache{}
	inv1 := inventory("a", "b")
	first := c.get(offloading("1", "a"), inv1)
	if again := c.get(offloading("1", "a"), inv1); again != first {
		t.Error("the same snapshot and version were selected again")
	}
	if got := selects(c.get(offloading("2", "b"), inv1), inv1); len(got) != 1 || got[0] != "b" {
		t.Errorf("a new version of the NamespaceOffloading selects %v, want [b]", got)
	}
	inv2 := inventory("b", "a")
	if got := selects(c.get(offloading("2", "b"), inv2), inv2); len(got) != 1 || got[0] != "b" {
		t.Errorf("a new snapshot (other positions) selects %v, want [b]", got)
	}
	var none *offloadingCache
	if got := selects(none.get(offloading("1", "a"), inv1), inv1); len(got) != 1 || got[0] != "a" {
		t.Errorf("a nil cache selects %v, want [a]", got)
	}
	for i := range maxCachedOffloadings + 1 {
		no := offloading("1", "a")
		no.Namespace = string(rune('a'+i%26)) + string(rune(i))
		c.get(no, inv1)
	}
	if len(c.entries) > maxCachedOffloadings {
		t.Errorf("%d entries cached, more than %d", len(c.entries), maxCachedOffloadings)
	}
}
