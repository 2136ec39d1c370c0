package peering

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
)

func TestClusterReady(t *testing.T) {
	provisioned := func(conds ...metav1.Condition) *clusterv1.Cluster {
		c := &clusterv1.Cluster{}
		c.Status.Phase = string(clusterv1.ClusterPhaseProvisioned)
		c.Status.Conditions = conds
		return c
	}
	now := metav1.Now()
	deleting := provisioned()
	deleting.DeletionTimestamp = &now
	initialized := provisioned()
	initialized.Status.Initialization.ControlPlaneInitialized = ptr.To(true)
	for _, tc := range []struct {
		name    string
		cluster *clusterv1.Cluster
		want    string
	}{
		{"no phase yet", &clusterv1.Cluster{}, `phase is "-", not Provisioned`},
		{"provisioning", &clusterv1.Cluster{Status: clusterv1.ClusterStatus{Phase: "Provisioning"}}, `phase is "Provisioning", not Provisioned`},
		{"being deleted", deleting, "being deleted"},
		{"control plane available", provisioned(metav1.Condition{Type: clusterv1.ClusterControlPlaneAvailableCondition, Status: metav1.ConditionTrue}), ""},
		{"control plane not available", provisioned(metav1.Condition{Type: clusterv1.ClusterControlPlaneAvailableCondition,
			Status: metav1.ConditionFalse, Reason: "NotAvailable"}), "control plane not available (NotAvailable)"},
		{"no condition, not initialized", provisioned(), "control plane not initialized"},
		{"no condition, initialized", initialized, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClusterReady(tc.cluster); got != tc.want {
				t.Errorf("ClusterReady = %q, want %q", got, tc.want)
			}
		})
	}
}
