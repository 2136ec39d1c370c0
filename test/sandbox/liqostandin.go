package sandbox

// This file is the STAND-IN for Liqo's controllers and gateway. It writes the objects a
// running Liqo would write (virtual Nodes with Liqo's labels and taint, VirtualNode CRs,
// Connection objects with the gateway's status format) so tests that only need those
// objects do not have to peer real clusters. It does not peer, reflect pods or measure.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	liqoconsts "github.com/liqotech/liqo/pkg/consts"
	timeutils "github.com/liqotech/liqo/pkg/utils/time"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TenantNamespace is the namespace Liqo keeps a peer's objects in.
func TenantNamespace(clusterID string) string { return "liqo-tenant-" + clusterID }

// ConnectionName is the name Liqo's gateway gives the Connection of a peering (gw-<gateway
// name>, where liqoctl names the gateway after the remote cluster id).
func ConnectionName(clusterID string) string { return "gw-" + clusterID }

// StandInVirtualNode creates what Liqo creates for a peered provider: a VirtualNode CR in
// the tenant namespace and the Node its virtual kubelet registers (same labels, taint and
// Ready status). With kwok running, pods bound to the node become Running.
func (c *Cluster) StandInVirtualNode(ctx context.Context, clusterID, nodeName string) (*corev1.Node, error) {
	if err := c.ensureTenantNamespace(ctx, clusterID); err != nil {
		return nil, err
	}
	vn := &offloadingv1beta1.VirtualNode{
		ObjectMeta: metav1.ObjectMeta{
			Name:      nodeName,
			Namespace: TenantNamespace(clusterID),
			Labels:    map[string]string{liqoconsts.RemoteClusterID: clusterID},
		},
		Spec: offloadingv1beta1.VirtualNodeSpec{
			ClusterID:  liqov1beta1.ClusterID(clusterID),
			CreateNode: ptr.To(true),
		},
	}
	if err := c.Client.Create(ctx, vn); err != nil {
		return nil, fmt.Errorf("stand-in: create VirtualNode %s: %w", nodeName, err)
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: nodeName,
			// As Liqo's virtual kubelet labels it (pkg/virtualKubelet/liqoNodeProvider/setup.go).
			Labels: map[string]string{
				corev1.LabelHostname:             nodeName,
				"kubernetes.io/role":             "agent",
				corev1.LabelOSStable:             "linux",
				corev1.LabelArchStable:           "amd64",
				liqoconsts.TypeLabel:             liqoconsts.TypeNode,
				liqoconsts.RemoteClusterID:       clusterID,
				corev1.LabelNodeExcludeBalancers: "true",
				liqoconsts.StorageAvailableLabel: "false",
			},
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{
			Key:    liqoconsts.VirtualNodeTolerationKey,
			Value:  strconv.FormatBool(true),
			Effect: corev1.TaintEffectNoExecute,
		}}},
	}
	if err := c.Client.Create(ctx, node); err != nil {
		return nil, fmt.Errorf("stand-in: create virtual node %s: %w", nodeName, err)
	}
	// A merge patch, not an update: the latency observer may label the node meanwhile.
	created := node.DeepCopy()
	node.Status = corev1.NodeStatus{
		Capacity:    nodeCapacity(),
		Allocatable: nodeCapacity(),
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		}},
	}
	if err := c.Client.Status().Patch(ctx, node, client.MergeFrom(created)); err != nil {
		return nil, fmt.Errorf("stand-in: mark virtual node %s Ready: %w", nodeName, err)
	}
	return c.WaitNodeReady(ctx, nodeName)
}

// StandInForeignCluster creates the ForeignCluster Liqo keeps for a peered provider, with
// the status its controllers write once the peering is established (role Provider,
// networking and offloading enabled). Where Liqo's real controllers run, they may rewrite
// that status.
func (c *Cluster) StandInForeignCluster(ctx context.Context, clusterID string) error {
	fc := &liqov1beta1.ForeignCluster{
		ObjectMeta: metav1.ObjectMeta{Name: clusterID, Labels: map[string]string{liqoconsts.RemoteClusterID: clusterID}},
		Spec:       liqov1beta1.ForeignClusterSpec{ClusterID: liqov1beta1.ClusterID(clusterID)},
	}
	if err := c.Client.Create(ctx, fc); err != nil {
		return fmt.Errorf("stand-in: create ForeignCluster %s: %w", clusterID, err)
	}
	// A merge patch: Liqo's controller, where it runs, writes the status meanwhile.
	created := fc.DeepCopy()
	fc.Status = liqov1beta1.ForeignClusterStatus{Role: liqov1beta1.ProviderRole, Modules: liqov1beta1.Modules{
		Networking: liqov1beta1.Module{Enabled: true}, Authentication: liqov1beta1.Module{Enabled: true},
		Offloading: liqov1beta1.Module{Enabled: true}}}
	if err := c.Client.Status().Patch(ctx, fc, client.MergeFrom(created)); err != nil {
		return fmt.Errorf("stand-in: ForeignCluster %s status: %w", clusterID, err)
	}
	return nil
}

// StandInConnection creates or updates the Connection of a peering with the status Liqo's
// gateway would write: value Connected|Connecting|Error and a latency formatted by Liqo's
// own FormatLatency ("12ms", "850μs", "N/A" for zero), stamped at now; Error, as Liqo
// writes it, with "N/A" and no timestamp.
func (c *Cluster) StandInConnection(ctx context.Context, clusterID string,
	value networkingv1beta1.ConnectionStatusValue, latency time.Duration, now time.Time) error {
	ns := TenantNamespace(clusterID)
	if err := c.ensureTenantNamespace(ctx, clusterID); err != nil {
		return err
	}
	conn := &networkingv1beta1.Connection{}
	key := client.ObjectKey{Namespace: ns, Name: ConnectionName(clusterID)}
	err := c.Client.Get(ctx, key, conn)
	if apierrors.IsNotFound(err) {
		conn = &networkingv1beta1.Connection{
			ObjectMeta: metav1.ObjectMeta{
				Name: key.Name, Namespace: ns,
				Labels: map[string]string{liqoconsts.RemoteClusterID: clusterID},
			},
			Spec: networkingv1beta1.ConnectionSpec{
				Type: networkingv1beta1.ConnectionTypeClient,
				GatewayRef: corev1.ObjectReference{
					APIVersion: networkingv1beta1.GroupVersion.String(),
					Kind:       networkingv1beta1.WgGatewayClientKind,
					Name:       clusterID, Namespace: ns,
				},
			},
		}
		err = c.Client.Create(ctx, conn)
	}
	if err != nil {
		return fmt.Errorf("stand-in: get or create Connection %s: %w", key, err)
	}
	conn.Status = networkingv1beta1.ConnectionStatus{
		Value: value,
		Latency: networkingv1beta1.ConnectionLatency{
			Value:     timeutils.FormatLatency(latency),
			Timestamp: metav1.NewTime(now),
		},
	}
	if value == networkingv1beta1.ConnectionError {
		// Liqo's disconnect observer reports a lost link with no latency and no timestamp
		// (conncheck's updateCallback(false, 0, time.Time{})).
		conn.Status.Latency = networkingv1beta1.ConnectionLatency{Value: timeutils.FormatLatency(0)}
	}
	if err := c.Client.Status().Update(ctx, conn); err != nil {
		return fmt.Errorf("stand-in: update Connection %s status: %w", key, err)
	}
	return nil
}

// ensureTenantNamespace creates the tenant namespace of a peering with the labels Liqo's
// tenant namespace manager gives it (xr-webhook trusts Connections only there).
func (c *Cluster) ensureTenantNamespace(ctx context.Context, clusterID string) error {
	name := TenantNamespace(clusterID)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		liqoconsts.RemoteClusterID: clusterID, liqoconsts.TenantNamespaceLabel: "true"}}}
	if err := c.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// OffloadingToAllPeers is a NamespaceOffloading of ns to every peered cluster (pods local
// and remote), as `liqoctl offload namespace` makes it; Liqo's controller, where it runs,
// fills its status.
func OffloadingToAllPeers(ns string) *offloadingv1beta1.NamespaceOffloading {
	return &offloadingv1beta1.NamespaceOffloading{
		ObjectMeta: metav1.ObjectMeta{Name: "offloading", Namespace: ns},
		Spec: offloadingv1beta1.NamespaceOffloadingSpec{
			NamespaceMappingStrategy: offloadingv1beta1.DefaultNameMappingStrategyType,
			PodOffloadingStrategy:    offloadingv1beta1.LocalAndRemotePodOffloadingStrategyType,
			ClusterSelector: corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: liqoconsts.RemoteClusterID, Operator: corev1.NodeSelectorOpExists}}}}},
		},
	}
}
