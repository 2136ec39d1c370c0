package plugin

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	"github.com/liqotech/liqo/pkg/liqoctl/unpeer"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	outputv1 "github.com/kubexr/kubectl-xr/api/output/v1alpha1"
	"github.com/kubexr/kubectl-xr/internal/peering"
	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// PeerListOptions lists the peered clusters.
type PeerListOptions struct {
	output *listOutput
	genericiooptions.IOStreams
	getter genericclioptions.RESTClientGetter
}

func newCmdPeerList(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &PeerListOptions{IOStreams: streams, getter: f}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List peered clusters with their connection, smoothed RTT, latency class and offloaded namespaces",
		Long: "With -o json|yaml the output is a PeerList of kubexr.io/v1alpha1 Peer objects (docs/output.md);\n" +
			"jsonpath, go-template and custom-columns read the same fields.",
		Example: "  kubectl xr peer list\n  kubectl xr peer list -o jsonpath='{.items[*].clusterID}'\n" +
			"  kubectl xr peer list -o custom-columns=CLUSTER:.clusterID,RTT:.rtt --sort-by=.rtt",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.output.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.output = addListOutput(cmd)
	return cmd
}

// Run prints the peers.
func (o *PeerListOptions) Run(ctx context.Context) error {
	k, err := newKube(o.getter)
	if err != nil {
		return err
	}
	peers, err := listPeers(ctx, k.client)
	if err != nil {
		return err
	}
	list := &outputv1.PeerList{Items: peers}
	if !o.output.humanReadable() {
		return o.output.Print(o.Out, list, nil)
	}
	if len(peers) == 0 {
		fmt.Fprintln(o.ErrOut, "No peered clusters found (kubectl xr peer add).")
		return nil
	}
	return o.output.Print(o.Out, list, func() *metav1.Table { return peerTable(peers, time.Now()) })
}

// peerTable is peer list's table; AGE is counted to now.
func peerTable(peers []outputv1.Peer, now time.Time) *metav1.Table {
	var rows [][]any
	var objects []runtime.Object
	for i := range peers {
		p := &peers[i]
		rows = append(rows, []any{p.ClusterID, orDash(p.CAPICluster), p.Connection, orDash(p.RTT), orDash(p.LatencyClass),
			orDash(strings.Join(p.VirtualNodes, ",")), orDash(strings.Join(p.OffloadedNamespaces, ",")), p.Role, orDash(p.ManagedBy),
			duration.HumanDuration(now.Sub(p.CreationTimestamp.Time))})
		objects = append(objects, p)
	}
	return newTable([]column{{name: "CLUSTER ID"}, {name: "CAPI CLUSTER"}, {name: "CONNECTION"}, {name: "RTT"},
		{name: "CLASS"}, {name: "VIRTUAL NODES"}, {name: "NAMESPACES"}, {name: "ROLE", wide: true}, {name: "MANAGED BY", wide: true}, {name: "AGE"}}, rows, objects)
}

// listPeers reads Liqo's ForeignClusters, Connections, virtual nodes (with the class and
// RTT xr-webhook's observer writes) and NamespaceMaps.
func listPeers(ctx context.Context, c client.Client) ([]outputv1.Peer, error) {
	// Four independent lists, read at once so the command waits for the slowest only. No
	// list cancels another, and errors are reported in this order, as when they were read
	// one after the other: without Liqo, the ForeignClusters' "is Liqo installed?" comes first.
	var fcs liqov1beta1.ForeignClusterList
	var conns networkingv1beta1.ConnectionList
	var nodes corev1.NodeList
	var maps offloadingv1beta1.NamespaceMapList
	errs := make([]error, 4)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.List(ctx, &fcs); err != nil {
			errs[0] = fmt.Errorf("list Liqo ForeignClusters (is Liqo installed?): %w", err)
		}
	})
	wg.Go(func() {
		if err := c.List(ctx, &conns); err != nil && !isNoMatch(err) {
			errs[1] = fmt.Errorf("list Liqo Connections: %w", err)
		}
	})
	wg.Go(func() {
		if err := c.List(ctx, &nodes, client.MatchingLabels{policy.LiqoTypeLabel: policy.LiqoTypeVirtualNode}); err != nil {
			errs[2] = fmt.Errorf("list virtual nodes: %w", err)
		}
	})
	wg.Go(func() {
		if err := c.List(ctx, &maps); err != nil {
			errs[3] = fmt.Errorf("list Liqo NamespaceMaps: %w", err)
		}
	})
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	var out []outputv1.Peer
	for _, fc := range fcs.Items {
		id := string(fc.Spec.ClusterID)
		p := outputv1.Peer{ObjectMeta: metav1.ObjectMeta{Name: id, CreationTimestamp: fc.CreationTimestamp, Labels: fc.Labels},
			ClusterID: id, CAPICluster: fc.Annotations[AnnotationCAPICluster], ManagedBy: fc.Annotations[peering.AnnotationManagedBy], Role: string(fc.Status.Role),
			Connection: "Disabled", VirtualNodes: []string{}, OffloadedNamespaces: []string{}}
		if fc.Status.Modules.Networking.Enabled {
			p.Connection = "NoConnection"
		}
		for _, conn := range conns.Items {
			if conn.Labels[policy.LiqoRemoteClusterIDLabel] == id {
				p.Connection = string(conn.Status.Value)
			}
		}
		for i := range nodes.Items {
			n := &nodes.Items[i]
			if xrkube.VirtualNodeCluster(n) != id {
				continue
			}
			p.VirtualNodes = append(p.VirtualNodes, n.Name)
			if v := n.Annotations[policy.AnnotationRTT]; v != "" {
				p.RTT = v
			}
			if v := n.Labels[policy.LabelLatencyClass]; v != "" {
				p.LatencyClass = v
			}
		}
		for _, m := range maps.Items {
			if m.Labels[policy.LiqoRemoteClusterIDLabel] != id {
				continue
			}
			for ns := range m.Spec.DesiredMapping {
				p.OffloadedNamespaces = append(p.OffloadedNamespaces, ns)
			}
		}
		sort.Strings(p.VirtualNodes)
		sort.Strings(p.OffloadedNamespaces)
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b outputv1.Peer) int { return strings.Compare(a.ClusterID, b.ClusterID) })
	return out, nil
}

// PeerRemoveOptions removes a peering through Liqo's unpeer code.
type PeerRemoveOptions struct {
	RemoteKubeconfig, RemoteContext         string
	RemoteLiqoNamespace                     string
	ManagementKubeconfig, ManagementContext string
	Timeout                                 time.Duration
	genericiooptions.IOStreams
	getter genericclioptions.RESTClientGetter
}

func newCmdPeerRemove(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &PeerRemoveOptions{IOStreams: streams, getter: f}
	cmd := &cobra.Command{
		Use:   "remove CLUSTER_ID",
		Short: "Unpeer a provider cluster with Liqo's own unpeer code",
		Long: "Liqo's unpeer talks to both clusters: give --remote-kubeconfig, or nothing for a cluster peered\n" +
			"from Cluster API (its kubeconfig is read again from the management cluster, in memory).",
		Example: "  kubectl xr peer remove edge-athens\n  kubectl xr peer remove cloud-geneva --remote-kubeconfig geneva.kubeconfig",
		Args:    cobra.ExactArgs(1),
		RunE:    func(cmd *cobra.Command, args []string) error { return o.Run(cmd.Context(), args[0]) },
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			return completeNames(f, "foreignclusters.core.liqo.io", ""), cobra.ShellCompDirectiveNoFileComp
		},
	}
	cmd.Flags().StringVar(&o.RemoteKubeconfig, "remote-kubeconfig", "", "kubeconfig of the provider cluster")
	cmd.Flags().StringVar(&o.RemoteContext, "remote-context", "", "context in --remote-kubeconfig")
	addRemoteLiqoNamespaceFlag(cmd, &o.RemoteLiqoNamespace)
	cmd.Flags().StringVar(&o.ManagementKubeconfig, "management-kubeconfig", "", "kubeconfig of the Cluster API management cluster (default: the current one)")
	cmd.Flags().StringVar(&o.ManagementContext, "management-context", "", "context of the Cluster API management cluster")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 2*time.Minute, "timeout of the unpeering")
	return cmd
}

// Run unpeers the cluster.
func (o *PeerRemoveOptions) Run(ctx context.Context, id string) error {
	k, err := newKube(o.getter)
	if err != nil {
		return err
	}
	fc := &liqov1beta1.ForeignCluster{}
	if err := k.client.Get(ctx, client.ObjectKey{Name: id}, fc); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("no peered cluster %q (kubectl xr peer list)", id)
		}
		return fmt.Errorf("get ForeignCluster %s: %w", id, err)
	}
	if by := fc.Annotations[peering.AnnotationManagedBy]; by != "" {
		ref := fc.Annotations[AnnotationCAPICluster]
		ns, name, _ := strings.Cut(ref, "/")
		return fmt.Errorf("%s is peered by %s from Cluster API cluster %s, which would peer it again: remove the label that selects the Cluster "+
			"(by default: kubectl label cluster -n %s %s kubexr.io/peer-) or delete the Cluster, and it is unpeered", id, by, ref, ns, name)
	}
	remoteCfg, err := o.remoteConfig(ctx, fc)
	if err != nil {
		return err
	}
	local, err := localLiqoFactory(o.getter, o.ErrOut)
	if err != nil {
		return err
	}
	remote, err := liqoFactory(remoteCfg, remoteLiqoNamespace(o.RemoteLiqoNamespace, o.getter), true, o.ErrOut)
	if err != nil {
		return err
	}
	u := unpeer.NewOptions(local)
	u.RemoteFactory, u.Timeout, u.Wait = remote, o.Timeout, true
	if err := u.RunUnpeer(ctx); err != nil {
		return fmt.Errorf("unpeer %s: %w", id, err)
	}
	fmt.Fprintf(o.Out, "%s unpeered\n", id)
	return nil
}

func (o *PeerRemoveOptions) remoteConfig(ctx context.Context, fc *liqov1beta1.ForeignCluster) (*rest.Config, error) {
	if o.RemoteKubeconfig != "" {
		return loadKubeconfig("--remote-kubeconfig", o.RemoteKubeconfig, o.RemoteContext)
	}
	ref := fc.Annotations[AnnotationCAPICluster]
	if ref == "" {
		return nil, fmt.Errorf("%s was not peered from Cluster API: give --remote-kubeconfig (Liqo's unpeer talks to both clusters)", fc.Name)
	}
	add := &PeerAddOptions{ManagementKubeconfig: o.ManagementKubeconfig, ManagementContext: o.ManagementContext, getter: o.getter}
	mgmt, ns, err := add.management()
	if err != nil {
		return nil, err
	}
	key, err := parseCAPIRef(ref, ns)
	if err != nil {
		return nil, err
	}
	return peering.ClusterRESTConfig(ctx, mgmt, key)
}
