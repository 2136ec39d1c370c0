package xrkube

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubexr/kubectl-xr/policy"
)

// VirtualNodeCluster is the remote cluster id of a Liqo virtual node, or "" for any
// other node.
func VirtualNodeCluster(n *corev1.Node) string {
	if n.Labels[policy.LiqoTypeLabel] != policy.LiqoTypeVirtualNode {
		return ""
	}
	return n.Labels[policy.LiqoRemoteClusterIDLabel]
}

// ClusterNodes groups virtual nodes by remote cluster id: one policy.Cluster per peered
// cluster with its node names, labels and RTT override (the largest if several nodes
// disagree: the pessimistic one). Links are left empty for the caller's trackers. A
// malformed override is ignored and reported, naming the node.
func ClusterNodes(nodes []corev1.Node) (map[string]*policy.Cluster, []error) {
	out := map[string]*policy.Cluster{}
	var errs []error
	for i := range nodes {
		n := &nodes[i]
		id := VirtualNodeCluster(n)
		if id == "" {
			continue
		}
		c, ok := out[id]
		if !ok {
			c = &policy.Cluster{ID: id}
			out[id] = c
		}
		c.Nodes = append(c.Nodes, n.Name)
		c.NodeLabels = append(c.NodeLabels, n.Labels)
		if v, ok := n.Annotations[policy.AnnotationRTTOverride]; ok {
			d, err := policy.ParseOverride(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("node %s: %w", n.Name, err))
				continue
			}
			c.Override = max(c.Override, d)
		}
	}
	for _, c := range out {
		slices.Sort(c.Nodes)
	}
	return out, errs
}
