package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	nwforge "github.com/liqotech/liqo/pkg/liqo-controller-manager/networking/forge"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/internal/peering"
)

// AnnotationCAPICluster on a Liqo ForeignCluster records the Cluster API cluster
// (namespace/name) it was peered from.
const AnnotationCAPICluster = peering.AnnotationCAPICluster

// NewCmdPeer builds `kubectl xr peer` with add, list and remove.
func NewCmdPeer(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "peer",
		Short: "Peer this cluster with provider clusters through Liqo, list and remove peerings",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdPeerAdd(f, streams), newCmdPeerList(f, streams), newCmdPeerRemove(f, streams))
	return cmd
}

// PeerAddOptions peers the current (consumer) cluster with providers.
type PeerAddOptions struct {
	RemoteKubeconfig, RemoteContext         string
	RemoteLiqoNamespace                     string
	CAPICluster, CAPISelector               string
	ManagementKubeconfig, ManagementContext string
	NetworkingDisabled                      bool
	// AllNamespaces lets --capi-selector match Clusters in every namespace of the
	// management cluster, not only its current (or -n) namespace.
	AllNamespaces      bool
	GatewayServiceType string
	GatewayServicePort int32
	CPU, Memory, Pods  string
	Timeout            time.Duration

	genericiooptions.IOStreams
	getter genericclioptions.RESTClientGetter
	kube   *kube
}

func newCmdPeerAdd(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &PeerAddOptions{IOStreams: streams, getter: f}
	cmd := &cobra.Command{
		Use:   "add (--remote-kubeconfig FILE | --capi-cluster [NS/]NAME | --capi-selector K=V)",
		Short: "Peer with a provider cluster using Liqo's own peering code",
		Long: "Peers the current cluster (the consumer) with a provider through Liqo's peering code (the\n" +
			"library behind liqoctl peer). The provider is a kubeconfig, or a Cluster API cluster whose\n" +
			"kubeconfig is read from its <name>-kubeconfig Secret on the management cluster and kept in\n" +
			"memory only. --capi-selector peers every matching cluster that is provisioned with its\n" +
			"control plane available; clusters already peered are reported and skipped.",
		Example: `  kubectl xr peer add --remote-kubeconfig edge-athens.kubeconfig
  kubectl xr peer add --capi-cluster fleet/edge-athens
  kubectl xr peer add --capi-selector tier=edge -n fleet
  kubectl xr peer add --capi-selector tier=edge -A --management-context mgmt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			k, err := newKube(f)
			if err != nil {
				return err
			}
			o.kube = k
			return o.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.RemoteKubeconfig, "remote-kubeconfig", "", "kubeconfig of the provider cluster")
	fl.StringVar(&o.RemoteContext, "remote-context", "", "context in --remote-kubeconfig")
	addRemoteLiqoNamespaceFlag(cmd, &o.RemoteLiqoNamespace)
	fl.StringVar(&o.CAPICluster, "capi-cluster", "", "Cluster API cluster to peer with, [NAMESPACE/]NAME")
	fl.StringVar(&o.CAPISelector, "capi-selector", "", "peer every Cluster API cluster matching this label selector, in the management cluster's current namespace (or -n, or every namespace with -A)")
	fl.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "with --capi-selector: match Cluster API clusters in every namespace")
	fl.StringVar(&o.ManagementKubeconfig, "management-kubeconfig", "", "kubeconfig of the Cluster API management cluster (default: the current one)")
	fl.StringVar(&o.ManagementContext, "management-context", "", "context of the Cluster API management cluster")
	fl.BoolVar(&o.NetworkingDisabled, "networking-disabled", false, "peer without Liqo's network fabric (no gateways, no measured latency)")
	fl.StringVar(&o.GatewayServiceType, "gw-server-service-type", string(nwforge.DefaultGwServerServiceType), "Service type of Liqo's gateway server: LoadBalancer, NodePort or ClusterIP")
	fl.Int32Var(&o.GatewayServicePort, "gw-server-service-port", nwforge.DefaultGwServerPort, "port of Liqo's gateway server Service (WireGuard, UDP)")
	fl.StringVar(&o.CPU, "cpu", "", "CPU to ask the provider for (default: what it offers)")
	fl.StringVar(&o.Memory, "memory", "", "memory to ask the provider for")
	fl.StringVar(&o.Pods, "pods", "", "pods to ask the provider for")
	fl.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "timeout of each peering")
	return cmd
}

// Validate checks that exactly one provider source is given.
func (o *PeerAddOptions) Validate() error {
	n := 0
	for _, s := range []string{o.RemoteKubeconfig, o.CAPICluster, o.CAPISelector} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return errors.New("give exactly one of --remote-kubeconfig, --capi-cluster or --capi-selector")
	}
	if o.AllNamespaces && o.CAPISelector == "" {
		return errors.New("-A/--all-namespaces goes with --capi-selector only")
	}
	if o.RemoteContext != "" && o.RemoteKubeconfig == "" {
		return errors.New("--remote-context needs --remote-kubeconfig")
	}
	return nil
}

// provider is one cluster to peer with.
type provider struct {
	// name is how the user named it (file, or Cluster API namespace/name).
	name string
	cfg  *rest.Config
	capi string
}

// Run peers with each provider in turn.
func (o *PeerAddOptions) Run(ctx context.Context) error {
	providers, err := o.providers(ctx)
	if err != nil {
		return err
	}
	cfg, err := o.getter.ToRESTConfig()
	if err != nil {
		return err
	}
	var failed []error
	for _, p := range providers {
		if err := o.peerOne(ctx, cfg, p); err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", p.name, err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d peerings failed: %w", len(failed), len(providers), errors.Join(failed...))
	}
	return nil
}

func (o *PeerAddOptions) providers(ctx context.Context) ([]provider, error) {
	if o.RemoteKubeconfig != "" {
		cfg, err := loadKubeconfig("--remote-kubeconfig", o.RemoteKubeconfig, o.RemoteContext)
		if err != nil {
			return nil, err
		}
		return []provider{{name: o.RemoteKubeconfig, cfg: cfg}}, nil
	}
	mgmt, ns, err := o.management()
	if err != nil {
		return nil, err
	}
	var clusters []clusterv1.Cluster
	if o.CAPICluster != "" {
		key, err := parseCAPIRef(o.CAPICluster, ns)
		if err != nil {
			return nil, err
		}
		c := clusterv1.Cluster{}
		if err := mgmt.Get(ctx, key, &c); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("Cluster API cluster %s not found on the management cluster", key)
			}
			return nil, fmt.Errorf("get Cluster API cluster %s: %w", key, err)
		}
		if why := peering.ClusterReady(&c); why != "" {
			return nil, fmt.Errorf("Cluster API cluster %s is not ready to peer: %s", key, why)
		}
		clusters = append(clusters, c)
	} else {
		where, in := ns, fmt.Sprintf(" in namespace %s", ns)
		if o.AllNamespaces {
			where, in = "", ""
		}
		all, err := capiClustersMatching(ctx, mgmt, where, o.CAPISelector)
		if err != nil {
			return nil, err
		}
		if len(all) == 0 && o.AllNamespaces {
			return nil, fmt.Errorf("no Cluster API cluster matches %q", o.CAPISelector)
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("no Cluster API cluster%s matches %q (use -n NAMESPACE, or -A for every namespace)", in, o.CAPISelector)
		}
		for i := range all {
			if why := peering.ClusterReady(&all[i]); why != "" {
				fmt.Fprintf(o.ErrOut, "Skipping Cluster API cluster %s/%s: %s\n", all[i].Namespace, all[i].Name, why)
				continue
			}
			clusters = append(clusters, all[i])
		}
	}
	var out []provider
	for i := range clusters {
		key := client.ObjectKeyFromObject(&clusters[i])
		cfg, err := peering.ClusterRESTConfig(ctx, mgmt, key)
		if err != nil {
			return nil, err
		}
		out = append(out, provider{name: "Cluster API cluster " + key.String(), cfg: cfg, capi: key.String()})
	}
	return out, nil
}

// management is the Cluster API management cluster's client and default namespace.
func (o *PeerAddOptions) management() (client.Client, string, error) {
	var cfg *rest.Config
	var ns string
	var err error
	if o.ManagementKubeconfig == "" && o.ManagementContext == "" {
		cfg, err = o.getter.ToRESTConfig()
		if err == nil {
			ns, _, err = o.getter.ToRawKubeConfigLoader().Namespace()
		}
	} else {
		loader := kubeconfigLoader(o.ManagementKubeconfig, o.ManagementContext)
		cfg, err = loader.ClientConfig()
		if err == nil {
			ns, _, err = loader.Namespace()
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("management cluster kubeconfig: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		return nil, "", fmt.Errorf("management cluster client: %w", err)
	}
	return c, ns, nil
}

func (o *PeerAddOptions) remoteLiqoNamespace() string {
	return remoteLiqoNamespace(o.RemoteLiqoNamespace, o.getter)
}

func (o *PeerAddOptions) peerOne(ctx context.Context, localCfg *rest.Config, p provider) error {
	pr := &peering.Peering{Local: localCfg, Remote: p.cfg, Scheme: newScheme(), Options: peering.Options{
		LiqoNamespace: liqoNamespaceOf(o.getter), RemoteLiqoNamespace: o.RemoteLiqoNamespace,
		NetworkingDisabled: o.NetworkingDisabled, GatewayServiceType: o.GatewayServiceType, GatewayServicePort: o.GatewayServicePort,
		CPU: o.CPU, Memory: o.Memory, Pods: o.Pods, Timeout: o.Timeout, Log: o.ErrOut}}
	id, err := pr.RemoteClusterID(ctx)
	if err != nil {
		return err
	}
	if peered, err := peering.AlreadyPeered(ctx, o.kube.client, id); err != nil {
		return err
	} else if peered {
		fmt.Fprintf(o.Out, "%s (%s) already peered, skipped\n", id, p.name)
		return nil
	}
	fmt.Fprintf(o.ErrOut, "Peering with %s (%s)\n", id, p.name)
	var record map[string]string
	if p.capi != "" {
		record = map[string]string{AnnotationCAPICluster: p.capi}
	}
	if _, err := pr.Peer(ctx, id, record); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "%s peered (%s)\n", id, p.name)
	return nil
}
