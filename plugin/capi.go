package plugin

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	capikubeconfig "sigs.k8s.io/cluster-api/util/kubeconfig"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/internal/xrkube"
)

// capiClusterReady says why a Cluster API cluster cannot be peered yet ("" if it can):
// it must be provisioned with its control plane available.
func capiClusterReady(c *clusterv1.Cluster) string {
	if c.DeletionTimestamp != nil {
		return "being deleted"
	}
	if c.Status.Phase != string(clusterv1.ClusterPhaseProvisioned) {
		return fmt.Sprintf("phase is %q, not Provisioned", orDash(c.Status.Phase))
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, clusterv1.ClusterControlPlaneAvailableCondition); cond != nil {
		if cond.Status != "True" {
			return "control plane not available (" + cond.Reason + ")"
		}
		return ""
	}
	if p := c.Status.Initialization.ControlPlaneInitialized; p == nil || !*p {
		return "control plane not initialized"
	}
	return ""
}

// capiRESTConfig reads a workload cluster's kubeconfig from its <name>-kubeconfig Secret
// on the management cluster. It stays in memory: never written, printed or logged.
func capiRESTConfig(ctx context.Context, mgmt client.Reader, key client.ObjectKey) (*rest.Config, error) {
	data, err := capikubeconfig.FromSecret(ctx, mgmt, key)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("Cluster API cluster %s has no kubeconfig Secret %s-kubeconfig yet", key, key.Name)
		}
		return nil, fmt.Errorf("read the kubeconfig Secret of Cluster API cluster %s: %w", key, err)
	}
	return xrkube.RESTConfigFromSecretKubeconfig(data, fmt.Sprintf("the kubeconfig Secret of Cluster API cluster %s", key))
}

// parseCAPIRef reads [namespace/]name.
func parseCAPIRef(ref, defaultNamespace string) (client.ObjectKey, error) {
	ns, name, found := strings.Cut(ref, "/")
	if !found {
		ns, name = defaultNamespace, ref
	}
	if ns == "" || name == "" || strings.Contains(name, "/") {
		return client.ObjectKey{}, fmt.Errorf("--capi-cluster %q: use NAME or NAMESPACE/NAME", ref)
	}
	return client.ObjectKey{Namespace: ns, Name: name}, nil
}

// capiClustersMatching lists the Cluster API clusters matching selector in namespace ("" = all).
func capiClustersMatching(ctx context.Context, mgmt client.Reader, namespace, selector string) ([]clusterv1.Cluster, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, fmt.Errorf("--capi-selector %q is not a label selector (use e.g. tier=edge): %w", selector, err)
	}
	var list clusterv1.ClusterList
	if err := mgmt.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("list Cluster API clusters: %w", err)
	}
	return list.Items, nil
}
