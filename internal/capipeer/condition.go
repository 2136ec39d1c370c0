package capipeer

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Reasons of the kubexr.io/Peered condition.
const (
	ReasonWaitingForCluster   = "WaitingForCluster"
	ReasonInvalidOptions      = "InvalidPeeringOptions"
	ReasonKubeconfigUnusable  = "KubeconfigUnusable"
	ReasonPeeringFailed       = "PeeringFailed"
	ReasonPeered              = "Peered"
	ReasonUnpeeringFailed     = "UnpeeringFailed"
	ReasonUnpeered            = "Unpeered"
	maxConditionMessageLength = 1024
)

// setPeered applies the kubexr.io/Peered condition with server-side apply as this
// controller's field manager: the Cluster's conditions are a map keyed by type, so Cluster
// API's own conditions, written by its controllers at the same time, are never replaced.
func (r *Reconciler) setPeered(ctx context.Context, c *clusterv1.Cluster, status metav1.ConditionStatus, reason, message string) error {
	if len(message) > maxConditionMessageLength {
		message = message[:maxConditionMessageLength-3] + "..."
	}
	old := meta.FindStatusCondition(c.Status.Conditions, ConditionPeered)
	if old != nil && old.Status == status && old.Reason == reason && old.Message == message && old.ObservedGeneration == c.Generation {
		return nil
	}
	transition := metav1.NewTime(r.now().Truncate(time.Second))
	if old != nil && old.Status == status {
		transition = old.LastTransitionTime
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": clusterv1.GroupVersion.String(), "kind": "Cluster",
		"metadata": map[string]any{"name": c.Name, "namespace": c.Namespace},
		"status": map[string]any{"conditions": []any{map[string]any{
			"type": ConditionPeered, "status": string(status), "reason": reason, "message": message,
			"observedGeneration": c.Generation, "lastTransitionTime": transition.UTC().Format(time.RFC3339),
		}}},
	}}
	return r.Client.Status().Patch(ctx, u, client.Apply, client.FieldOwner(FieldOwner), client.ForceOwnership)
}
