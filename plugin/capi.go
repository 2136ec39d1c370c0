package plugin

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

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
