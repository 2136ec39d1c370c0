package sandbox

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const nodeReadyTimeout = 60 * time.Second

// AddNode creates an ordinary node that kwok manages (the cluster must run kwok) and waits
// until it is Ready and schedulable.
func (c *Cluster) AddNode(ctx context.Context, name string, labels map[string]string) (*corev1.Node, error) {
	lbls := map[string]string{
		corev1.LabelHostname:   name,
		corev1.LabelOSStable:   "linux",
		corev1.LabelArchStable: "amd64",
		"type":                 "kwok",
	}
	maps.Copy(lbls, labels)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      lbls,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		},
		Status: corev1.NodeStatus{Allocatable: nodeCapacity(), Capacity: nodeCapacity()},
	}
	if err := c.Client.Create(ctx, node); err != nil {
		return nil, fmt.Errorf("create node %s: %w", name, err)
	}
	return c.WaitNodeReady(ctx, name)
}

// WaitNodeReady waits until node name exists and reports Ready, then removes the
// not-ready taint if something added it: without kube-controller-manager nothing else would.
func (c *Cluster) WaitNodeReady(ctx context.Context, name string) (*corev1.Node, error) {
	node := &corev1.Node{}
	err := poll(ctx, 100*time.Millisecond, nodeReadyTimeout, "node "+name+" Ready", func(ctx context.Context) (bool, error) {
		if err := c.Client.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
			return false, err
		}
		return nodeReady(node), nil
	})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	kept := node.Spec.Taints[:0:0]
	for _, t := range node.Spec.Taints {
		if t.Key != corev1.TaintNodeNotReady {
			kept = append(kept, t)
		}
	}
	if len(kept) != len(node.Spec.Taints) {
		patch := client.MergeFrom(node.DeepCopy())
		node.Spec.Taints = kept
		if err := c.Client.Patch(ctx, node, patch); err != nil {
			return nil, fmt.Errorf("remove not-ready taint from %s: %w", name, err)
		}
	}
	return node, nil
}

func nodeReady(node *corev1.Node) bool {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

func nodeCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
}
