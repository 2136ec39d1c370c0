package peering

import (
	"fmt"
	"io"

	authv1beta1 "github.com/liqotech/liqo/apis/authentication/v1beta1"
	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	ipamv1alpha1 "github.com/liqotech/liqo/apis/ipam/v1alpha1"
	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	"github.com/liqotech/liqo/pkg/liqoctl/factory"
	"github.com/liqotech/liqo/pkg/liqoctl/output"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DefaultLiqoNamespace is where Liqo's chart installs it.
const DefaultLiqoNamespace = "liqo"

// AddToScheme adds what peering reads and writes: core Kubernetes, Liqo's APIs and Cluster
// API's Cluster. Liqo's liqoctl code needs every Liqo group in its client's scheme.
func AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, liqov1beta1.AddToScheme,
		authv1beta1.AddToScheme, networkingv1beta1.AddToScheme, offloadingv1beta1.AddToScheme,
		ipamv1alpha1.AddToScheme, clusterv1.AddToScheme} {
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}

// Factory builds the factory Liqo's liqoctl code runs with, from a REST config (from
// kubeconfig flags, or from a Cluster API kubeconfig held in memory), so peering reuses
// Liqo's code rather than re-implementing it. liqoNamespace is where Liqo runs in that
// cluster; scheme must hold AddToScheme's types. Liqo's messages (and spinners) go to log.
func Factory(cfg *rest.Config, scheme *runtime.Scheme, liqoNamespace string, remote bool, log io.Writer) (*factory.Factory, error) {
	f := factory.NewForLocal()
	newPrinter := output.NewLocalPrinter
	if remote {
		f = factory.NewForRemote()
		newPrinter = output.NewRemotePrinter
	}
	f.Printer = newPrinter(true, false)
	f.PrinterGlobal = output.NewGlobalPrinter(true, false)
	for _, p := range []*output.Printer{f.Printer, f.PrinterGlobal} {
		p.Info.Writer, p.Success.Writer, p.Warning.Writer, p.Error.Writer = log, log, log, log
	}
	f.LiqoNamespace = liqoNamespace
	f.SkipConfirm = true
	var err error
	f.RESTConfig = rest.CopyConfig(cfg)
	if f.KubeClient, err = kubernetes.NewForConfig(f.RESTConfig); err != nil {
		return nil, fmt.Errorf("liqo clients: %w", err)
	}
	if f.DynClient, err = dynamic.NewForConfig(f.RESTConfig); err != nil {
		return nil, fmt.Errorf("liqo clients: %w", err)
	}
	if f.CRClient, err = client.New(f.RESTConfig, client.Options{Scheme: scheme}); err != nil {
		return nil, fmt.Errorf("liqo clients: %w", err)
	}
	return f, nil
}
