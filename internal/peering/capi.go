package peering

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	capikubeconfig "sigs.k8s.io/cluster-api/util/kubeconfig"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/internal/xrkube"
)

// ClusterReady says why a Cluster API cluster cannot be peered yet ("" if it can): it
// must be provisioned with its control plane available.
func ClusterReady(c *clusterv1.Cluster) string {
	if c.DeletionTimestamp != nil {
		return "being deleted"
	}
	if c.Status.Phase != string(clusterv1.ClusterPhaseProvisioned) {
		phase := c.Status.Phase
		if phase == "" {
			phase = "-"
		}
		return fmt.Sprintf("phase is %q, not Provisioned", phase)
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

// ErrNoKubeconfig is wrapped by ClusterRESTConfig's error when the Secret does not exist.
var ErrNoKubeconfig = fmt.Errorf("no kubeconfig Secret")

// ClusterRESTConfig reads a workload cluster's kubeconfig from its <name>-kubeconfig
// Secret on the management cluster, refusing exec and auth-provider entries
// (xrkube.RESTConfigFromSecretKubeconfig). It stays in memory: never written, printed or
// logged.
func ClusterRESTConfig(ctx context.Context, mgmt client.Reader, key client.ObjectKey) (*rest.Config, error) {
	data, err := capikubeconfig.FromSecret(ctx, mgmt, key)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("Cluster API cluster %s has %w %s-kubeconfig yet", key, ErrNoKubeconfig, key.Name)
		}
		return nil, fmt.Errorf("read the kubeconfig Secret of Cluster API cluster %s: %w", key, err)
	}
	return xrkube.RESTConfigFromSecretKubeconfig(data, fmt.Sprintf("the kubeconfig Secret of Cluster API cluster %s", key))
}
