package xrkube

import (
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"

	"github.com/kubexr/kubectl-xr/policy"
)

// NamespaceOffloadingName is the only name Liqo accepts for a NamespaceOffloading.
const NamespaceOffloadingName = "offloading"

// Offloading is what a namespace's NamespaceOffloading allows, against inv; nil when the
// namespace has none (or it is being deleted), so no remote cluster may run its pods.
func Offloading(no *offloadingv1beta1.NamespaceOffloading, inv *policy.Inventory) *policy.Offloading {
	if no == nil || no.DeletionTimestamp != nil {
		return nil
	}
	return &policy.Offloading{
		Strategy: string(no.Spec.PodOffloadingStrategy),
		Selected: inv.SelectClusters(no.Spec.ClusterSelector),
	}
}
