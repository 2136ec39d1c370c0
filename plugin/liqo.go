package plugin

import (
	"fmt"
	"io"

	"github.com/liqotech/liqo/pkg/liqoctl/factory"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubexr/kubectl-xr/internal/peering"
)

// defaultLiqoNamespace is where Liqo's chart installs it.
const defaultLiqoNamespace = peering.DefaultLiqoNamespace

// globalFlags are the flags of every command: kubectl's, and liqoctl's --liqo-namespace/-l
// for the commands that read or write Liqo's objects. It is the RESTClientGetter every
// command gets.
type globalFlags struct {
	*genericclioptions.ConfigFlags
	liqoNamespace string
}

func newGlobalFlags(fs *pflag.FlagSet) *globalFlags {
	g := &globalFlags{ConfigFlags: genericclioptions.NewConfigFlags(true)}
	g.AddFlags(fs)
	fs.StringVarP(&g.liqoNamespace, factory.FlagLiqoNamespace, "l", defaultLiqoNamespace, "the namespace where Liqo is installed (as liqoctl's)")
	return g
}

// liqoNamespaceOf is the --liqo-namespace of the command line getter came from.
func liqoNamespaceOf(getter genericclioptions.RESTClientGetter) string {
	if g, ok := getter.(*globalFlags); ok && g.liqoNamespace != "" {
		return g.liqoNamespace
	}
	return defaultLiqoNamespace
}

// liqoFactory is peering.Factory with the plugin's scheme: Liqo's liqoctl code, run with
// a REST config from the kubeconfig flags or from a Cluster API kubeconfig held in memory.
// Liqo's messages go to errOut (its spinners to stderr).
func liqoFactory(cfg *rest.Config, liqoNamespace string, remote bool, errOut io.Writer) (*factory.Factory, error) {
	return peering.Factory(cfg, newScheme(), liqoNamespace, remote, errOut)
}

// localLiqoFactory is liqoFactory for the current context.
func localLiqoFactory(f genericclioptions.RESTClientGetter, errOut io.Writer) (*factory.Factory, error) {
	cfg, err := f.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return liqoFactory(cfg, liqoNamespaceOf(f), false, errOut)
}

// loadKubeconfig reads a kubeconfig file (and context) given on the command line.
func loadKubeconfig(flag, path, context string) (*rest.Config, error) {
	cfg, err := kubeconfigLoader(path, context).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return cfg, nil
}

func kubeconfigLoader(path, context string) clientcmd.ClientConfig {
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path}, &clientcmd.ConfigOverrides{CurrentContext: context})
}

// addRemoteLiqoNamespaceFlag is liqoctl's --remote-liqo-namespace, for commands that
// talk to a provider too.
func addRemoteLiqoNamespaceFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "remote-"+factory.FlagLiqoNamespace, "", "the namespace where Liqo is installed in the provider cluster (default: --liqo-namespace)")
}

// remoteLiqoNamespace is flag's value, or the local --liqo-namespace when it is empty.
func remoteLiqoNamespace(flag string, getter genericclioptions.RESTClientGetter) string {
	if flag != "" {
		return flag
	}
	return liqoNamespaceOf(getter)
}
