package plugin

import (
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func isNoMatch(err error) bool { return meta.IsNoMatchError(err) }

// completeTypeName completes TYPE/NAME arguments: first the kinds ("deployment/"), then
// the names of that kind in the namespace.
func completeTypeName(f genericclioptions.RESTClientGetter, kinds []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		kind, _, found := strings.Cut(toComplete, "/")
		if !found {
			var out []string
			for _, k := range kinds {
				out = append(out, strings.ToLower(k)+"/")
			}
			return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
		}
		return completeNames(f, kind, kind+"/"), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeNames lists the objects of resource in the current namespace as prefix+name.
func completeNames(f genericclioptions.RESTClientGetter, res, prefix string) []string {
	ns, _, _ := f.ToRawKubeConfigLoader().Namespace()
	infos, err := resource.NewBuilder(f).Unstructured().NamespaceParam(ns).DefaultNamespace().
		ResourceTypeOrNameArgs(true, res).Flatten().Do().Infos()
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(infos))
	for _, info := range infos {
		out = append(out, prefix+info.Name)
	}
	return out
}

// completeClasses completes --class with the cluster's LatencyClasses.
func completeClasses(f genericclioptions.RESTClientGetter) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		k, err := newKube(f)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		classes, err := clusterClasses(cmd.Context(), k)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return classes.Names(), cobra.ShellCompDirectiveNoFileComp
	}
}

// registerGlobalCompletions completes -n with the cluster's namespaces and --context,
// --cluster and --user from the kubeconfig, as kubectl does; -l with the namespaces too.
func registerGlobalCompletions(cmd *cobra.Command, f *globalFlags) {
	namespaces := func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return completeNames(f, "namespaces", ""), cobra.ShellCompDirectiveNoFileComp
	}
	_ = cmd.RegisterFlagCompletionFunc("namespace", namespaces)
	_ = cmd.RegisterFlagCompletionFunc("liqo-namespace", namespaces)
	fromKubeconfig := func(names func(raw *clientcmdapi.Config) []string) cobra.CompletionFunc {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			raw, err := f.ToRawKubeConfigLoader().RawConfig()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			out := names(&raw)
			slices.Sort(out)
			return out, cobra.ShellCompDirectiveNoFileComp
		}
	}
	_ = cmd.RegisterFlagCompletionFunc("context", fromKubeconfig(func(c *clientcmdapi.Config) []string { return slices.Collect(maps.Keys(c.Contexts)) }))
	_ = cmd.RegisterFlagCompletionFunc("cluster", fromKubeconfig(func(c *clientcmdapi.Config) []string { return slices.Collect(maps.Keys(c.Clusters)) }))
	_ = cmd.RegisterFlagCompletionFunc("user", fromKubeconfig(func(c *clientcmdapi.Config) []string { return slices.Collect(maps.Keys(c.AuthInfos)) }))
}
