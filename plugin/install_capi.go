package plugin

import (
	"context"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/wait"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/kubexr/kubectl-xr/internal/capipeer"
)

// releaseClusters removes xr-capi-peerer's finalizer from every Cluster once xr-capi-peerer
// is removed (uninstall, install --capi=false): nothing else would, and a Cluster keeping
// it could never be deleted. The peerings stay, and say so: kubectl xr peer remove ends
// them. It first waits (up to a minute) for xr-capi-peerer's pods to be gone, so that none
// adds the finalizer back.
func releaseClusters(ctx context.Context, c client.Client, d *dryRun, out io.Writer) error {
	if d.none() {
		err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
			var pods corev1.PodList
			if err := c.List(ctx, &pods, client.InNamespace(installNamespace), podsOf(peererName)); err != nil {
				return false, err
			}
			return len(pods.Items) == 0, nil
		})
		if err != nil {
			return fmt.Errorf("wait for xr-capi-peerer's pods to stop before releasing its Clusters: %w", err)
		}
	}
	var clusters clusterv1.ClusterList
	if err := c.List(ctx, &clusters); err != nil {
		if meta.IsNoMatchError(err) {
			return nil // no Cluster API here
		}
		return fmt.Errorf("list Cluster API clusters to release them from xr-capi-peerer: %w", err)
	}
	for i := range clusters.Items {
		cl := &clusters.Items[i]
		if !controllerutil.ContainsFinalizer(cl, capipeer.Finalizer) {
			continue
		}
		patch := client.MergeFromWithOptions(cl.DeepCopy(), client.MergeFromWithOptimisticLock{})
		controllerutil.RemoveFinalizer(cl, capipeer.Finalizer)
		if !d.client() {
			if err := c.Patch(ctx, cl, patch, d.patchOpts()...); err != nil {
				return fmt.Errorf("remove %s from Cluster %s/%s: %w", capipeer.Finalizer, cl.Namespace, cl.Name, err)
			}
		}
		fmt.Fprintf(out, "cluster.cluster.x-k8s.io/%s released from xr-capi-peerer%s (its peering %s stays: kubectl xr peer remove %s ends it)\n",
			cl.Name, d.suffix(), orDash(cl.Annotations[capipeer.AnnotationClusterID]), orDash(cl.Annotations[capipeer.AnnotationClusterID]))
	}
	return nil
}
