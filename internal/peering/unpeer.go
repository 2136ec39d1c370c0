package peering

import (
	"context"
	"fmt"
	"time"

	authv1beta1 "github.com/liqotech/liqo/apis/authentication/v1beta1"
	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	liqoutils "github.com/liqotech/liqo/pkg/utils"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
)

// Unpeer removes the peering with the provider on both sides, as liqoctl unpeer does, but
// returning its errors: liqoctl's own RunUnpeer (and the unauthenticate and network code
// it calls) ends the process with os.Exit on most errors (output.Printer.CheckErr), which
// a controller cannot let happen when a provider stops answering halfway. On the consumer
// it removes what Forget removes, waiting for each kind; on the provider its Tenant for
// this consumer, gateways and network Configuration. A peering that is also the other way
// round (ConsumerAndProvider) keeps its network.
func (p *Peering) Unpeer(ctx context.Context, providerID liqov1beta1.ClusterID) error {
	if p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Timeout)
		defer cancel()
	}
	local, remote, err := p.factories()
	if err != nil {
		return err
	}
	consumerID, err := liqoutils.GetClusterIDWithControllerClient(ctx, local.CRClient, local.LiqoNamespace)
	if err != nil {
		return fmt.Errorf("read this cluster's Liqo cluster id: %w", err)
	}
	// The provider must answer before anything is removed: else the caller decides
	// (retry, or Forget a provider that is gone).
	if _, err := liqoutils.GetClusterIDWithControllerClient(ctx, remote.CRClient, remote.LiqoNamespace); err != nil {
		return fmt.Errorf("reach the provider %s: %w", providerID, err)
	}
	keepNetwork := false
	fc := &liqov1beta1.ForeignCluster{}
	if err := local.CRClient.Get(ctx, client.ObjectKey{Name: string(providerID)}, fc); err == nil {
		keepNetwork = fc.Status.Role == liqov1beta1.ConsumerAndProviderRole
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("get ForeignCluster %s: %w", providerID, err)
	}
	consumerKinds := consumerSide()
	providerKinds := []client.ObjectList{&authv1beta1.TenantList{}}
	if keepNetwork {
		consumerKinds = consumerKinds[:3] // ResourceSlices, VirtualNodes, Identity
	} else {
		providerKinds = append(providerKinds, &networkingv1beta1.GatewayServerList{}, &networkingv1beta1.GatewayClientList{},
			&networkingv1beta1.ConfigurationList{})
	}
	if err := removeAll(ctx, local.CRClient, providerID, consumerKinds, waitGone); err != nil {
		return err
	}
	return removeAll(ctx, remote.CRClient, consumerID, providerKinds, dontWait)
}

// consumerSide lists, in the order liqoctl unpeer removes them, the kinds the consumer holds
// for a peering, each labelled with the provider's cluster id.
func consumerSide() []client.ObjectList {
	return []client.ObjectList{
		&authv1beta1.ResourceSliceList{}, &offloadingv1beta1.VirtualNodeList{}, &authv1beta1.IdentityList{},
		&networkingv1beta1.GatewayClientList{}, &networkingv1beta1.GatewayServerList{}, &networkingv1beta1.ConfigurationList{},
	}
}

// Forget removes the consumer's half of a peering with a provider that is gone for good
// (its Cluster API cluster deleted, its control plane already stopped): Liqo's unpeer
// cannot run without the provider, and what the provider held went with it. It deletes
// the consumer's ResourceSlices, VirtualNodes (and with them the Nodes), Identity,
// gateways and network Configuration for id, waits until each is gone, then the
// ForeignCluster. Liqo's CRD replicator's finalizer on a ResourceSlice waits for the
// provider, which will never answer again: a ResourceSlice still there after forceAfter
// loses its finalizers.
func Forget(ctx context.Context, c client.Client, id liqov1beta1.ClusterID) error {
	if err := removeAll(ctx, c, id, consumerSide(), forceGone); err != nil {
		return err
	}
	return DeleteForeignCluster(ctx, c, id)
}

// How removeAll ends: without waiting (the provider's side), waiting until every object is
// gone, or waiting and then removing the finalizers of what is left after forceAfter.
type ending int

const (
	dontWait ending = iota
	waitGone
	forceGone
)

// forceAfter is how long Forget lets Liqo's own finalizers run before it removes them.
const forceAfter = 10 * time.Second

// removeAll deletes, kind after kind, the objects of kinds labelled with the remote cluster
// id, and ends each kind as end says.
func removeAll(ctx context.Context, c client.Client, id liqov1beta1.ClusterID, kinds []client.ObjectList, end ending) error {
	byID := client.MatchingLabels{policy.LiqoRemoteClusterIDLabel: string(id)}
	for _, list := range kinds {
		if err := c.List(ctx, list, byID); err != nil {
			if meta.IsNoMatchError(err) {
				continue // e.g. networking not installed
			}
			return fmt.Errorf("list %T of %s: %w", list, id, err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, item := range items {
			if err := client.IgnoreNotFound(c.Delete(ctx, item.(client.Object))); err != nil {
				return fmt.Errorf("delete %T %s: %w", item, client.ObjectKeyFromObject(item.(client.Object)), err)
			}
		}
		if end == dontWait || len(items) == 0 {
			continue
		}
		gone := func(ctx context.Context) (bool, error) {
			if err := c.List(ctx, list, byID); err != nil {
				return false, err
			}
			return meta.LenList(list) == 0, nil
		}
		if end == forceGone && forcible(list) {
			waitCtx, cancel := context.WithTimeout(ctx, forceAfter)
			err = wait.PollUntilContextCancel(waitCtx, 500*time.Millisecond, true, gone)
			cancel()
			if err != nil && ctx.Err() == nil {
				if err := dropFinalizers(ctx, c, list); err != nil {
					return err
				}
				err = wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, gone)
			}
		} else {
			err = wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, gone)
		}
		if err != nil {
			return fmt.Errorf("wait for the %T of %s to be deleted: %w", list, id, err)
		}
	}
	return nil
}

// forcible: the kinds whose finalizers wait for the provider — a ResourceSlice's, which
// Liqo's CRD replicator holds until it has deleted the provider's copy. Others (a
// VirtualNode's drains the virtual node's pods here) are never cut short.
func forcible(list client.ObjectList) bool {
	_, ok := list.(*authv1beta1.ResourceSliceList)
	return ok
}

// dropFinalizers removes the finalizers of list's objects (as last listed).
func dropFinalizers(ctx context.Context, c client.Client, list client.ObjectList) error {
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	for _, item := range items {
		obj := item.(client.Object)
		if len(obj.GetFinalizers()) == 0 {
			continue
		}
		patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
		if err := client.IgnoreNotFound(c.Patch(ctx, obj, patch)); err != nil {
			return fmt.Errorf("remove the finalizers of %T %s: %w", obj, client.ObjectKeyFromObject(obj), err)
		}
	}
	return nil
}

// DeleteForeignCluster removes the ForeignCluster of id once nothing is peered: Liqo's
// unpeer leaves it (with every module disabled), and peer list would keep showing it.
func DeleteForeignCluster(ctx context.Context, c client.Client, id liqov1beta1.ClusterID) error {
	fc := &liqov1beta1.ForeignCluster{}
	fc.Name = string(id)
	if err := client.IgnoreNotFound(c.Delete(ctx, fc)); err != nil {
		return fmt.Errorf("delete ForeignCluster %s: %w", id, err)
	}
	return nil
}
