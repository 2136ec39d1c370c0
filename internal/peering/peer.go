package peering

import (
	"context"
	"fmt"
	"io"
	"time"

	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	nwforge "github.com/liqotech/liqo/pkg/liqo-controller-manager/networking/forge"
	"github.com/liqotech/liqo/pkg/liqoctl/factory"
	"github.com/liqotech/liqo/pkg/liqoctl/peer"
	liqoutils "github.com/liqotech/liqo/pkg/utils"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
)

// Annotations kubectl-xr keeps on Liqo's ForeignClusters (Liqo creates them; these only
// record where a peering came from).
const (
	// AnnotationCAPICluster is the Cluster API cluster (NAMESPACE/NAME) a peer was peered from.
	AnnotationCAPICluster = "kubexr.io/capi-cluster"
	// AnnotationManagedBy names the controller that peered the cluster and will unpeer it
	// when its Cluster is deleted or no longer selected.
	AnnotationManagedBy = "kubexr.io/managed-by"
)

// Options are the peering's settings, as liqoctl peer's flags.
type Options struct {
	// LiqoNamespace and RemoteLiqoNamespace are where Liqo runs on the consumer and the provider.
	LiqoNamespace, RemoteLiqoNamespace string
	NetworkingDisabled                 bool
	// GatewayServiceType is LoadBalancer, NodePort or ClusterIP ("" = Liqo's default).
	GatewayServiceType string
	// GatewayServicePort is the gateway server Service's port (0 = Liqo's default).
	GatewayServicePort int32
	// CPU, Memory and Pods are asked of the provider ("" = what it offers).
	CPU, Memory, Pods string
	Timeout           time.Duration
	// Log receives Liqo's messages.
	Log io.Writer
}

// Peering is one consumer (local) and one provider (remote) cluster.
type Peering struct {
	Local, Remote *rest.Config
	Scheme        *runtime.Scheme
	Options
}

func (p *Peering) factories() (local, remote *factory.Factory, err error) {
	if local, err = Factory(p.Local, p.Scheme, p.LiqoNamespace, false, p.Log); err != nil {
		return nil, nil, err
	}
	if remote, err = Factory(p.Remote, p.Scheme, p.remoteLiqoNamespace(), true, p.Log); err != nil {
		return nil, nil, err
	}
	return local, remote, nil
}

func (p *Peering) remoteLiqoNamespace() string {
	if p.RemoteLiqoNamespace != "" {
		return p.RemoteLiqoNamespace
	}
	return p.LiqoNamespace
}

// RemoteClusterID reads the provider's Liqo cluster id.
func (p *Peering) RemoteClusterID(ctx context.Context) (liqov1beta1.ClusterID, error) {
	remote, err := Factory(p.Remote, p.Scheme, p.remoteLiqoNamespace(), true, p.Log)
	if err != nil {
		return "", err
	}
	id, err := liqoutils.GetClusterIDWithControllerClient(ctx, remote.CRClient, remote.LiqoNamespace)
	if err != nil {
		return "", fmt.Errorf("read the provider's Liqo cluster id (is Liqo installed there?): %w", err)
	}
	return id, nil
}

// Peer peers with the provider whose id is id (RemoteClusterID) through liqoctl peer's
// code, unless it is already peered (a ForeignCluster and a VirtualNode exist), and then
// merges annotations into the provider's ForeignCluster. already says it was peered before.
func (p *Peering) Peer(ctx context.Context, id liqov1beta1.ClusterID, annotations map[string]string) (already bool, err error) {
	local, remote, err := p.factories()
	if err != nil {
		return false, err
	}
	if already, err = AlreadyPeered(ctx, local.CRClient, id); err != nil {
		return false, err
	}
	if !already {
		opts := peer.NewOptions(local)
		opts.RemoteFactory = remote
		opts.Timeout = p.Timeout
		opts.NetworkingDisabled = p.NetworkingDisabled
		serviceType := p.GatewayServiceType
		if serviceType == "" {
			serviceType = string(nwforge.DefaultGwServerServiceType)
		}
		if err := opts.ServerServiceType.Set(serviceType); err != nil {
			return false, fmt.Errorf("gateway server service type: %w", err)
		}
		opts.ServerServicePort = p.GatewayServicePort
		if opts.ServerServicePort == 0 {
			opts.ServerServicePort = nwforge.DefaultGwServerPort
		}
		opts.MTU = nwforge.DefaultMTU
		opts.CreateResourceSlice, opts.ResourceSliceClass, opts.CreateVirtualNode = true, "default", true
		opts.CPU, opts.Memory, opts.Pods = p.CPU, p.Memory, p.Pods
		if err := opts.RunPeer(ctx); err != nil {
			return false, err
		}
	}
	if len(annotations) > 0 {
		if err := annotateForeignCluster(ctx, local.CRClient, id, annotations); err != nil {
			return already, err
		}
	}
	return already, nil
}

// AlreadyPeered: a ForeignCluster for id exists and Liqo has created its VirtualNode.
func AlreadyPeered(ctx context.Context, c client.Reader, id liqov1beta1.ClusterID) (bool, error) {
	fc := &liqov1beta1.ForeignCluster{}
	if err := c.Get(ctx, client.ObjectKey{Name: string(id)}, fc); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	var vns offloadingv1beta1.VirtualNodeList
	if err := c.List(ctx, &vns, client.MatchingLabels{policy.LiqoRemoteClusterIDLabel: string(id)}); err != nil {
		return false, fmt.Errorf("list VirtualNodes: %w", err)
	}
	return len(vns.Items) > 0, nil
}

// annotateForeignCluster merges annotations into the ForeignCluster of id, which Liqo's
// controller creates shortly after the peering's first objects.
func annotateForeignCluster(ctx context.Context, c client.Client, id liqov1beta1.ClusterID, annotations map[string]string) error {
	fc := &liqov1beta1.ForeignCluster{}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Name: string(id)}, fc)
		return err == nil, client.IgnoreNotFound(err)
	})
	if err != nil {
		return fmt.Errorf("find the ForeignCluster of %s: %w", id, err)
	}
	patch := client.MergeFrom(fc.DeepCopy())
	if fc.Annotations == nil {
		fc.Annotations = map[string]string{}
	}
	for k, v := range annotations {
		fc.Annotations[k] = v
	}
	return client.IgnoreNotFound(c.Patch(ctx, fc, patch))
}
