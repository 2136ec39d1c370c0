package plugin

import (
	"context"
	"fmt"
	"time"

	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	"github.com/liqotech/liqo/pkg/liqoctl/unoffload"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// rawOf wraps an object for a List.
func rawOf(obj runtime.Object) runtime.RawExtension { return runtime.RawExtension{Object: obj} }

// OffloadListOptions lists the offloaded namespaces.
type OffloadListOptions struct {
	output        *listOutput
	AllNamespaces bool
	genericiooptions.IOStreams
	getter genericclioptions.RESTClientGetter
}

func newCmdOffloadList(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &OffloadListOptions{IOStreams: streams, getter: f}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the namespaces offloaded with Liqo, their strategy, clusters and default class",
		Long: "Lists the NamespaceOffloading of the current namespace (-n NAMESPACE for another), or of\n" +
			"every namespace with -A, as kubectl get does.",
		Example: "  kubectl xr offload list -A\n  kubectl xr offload list -A -o custom-columns=NAMESPACE:.metadata.namespace,CLUSTERS:.spec.clusterSelector",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.output.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.output = addListOutput(cmd)
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "every offloaded namespace, not only the current one")
	return cmd
}

// Run prints one row per NamespaceOffloading.
func (o *OffloadListOptions) Run(ctx context.Context) error {
	k, err := newKube(o.getter)
	if err != nil {
		return err
	}
	var list offloadingv1beta1.NamespaceOffloadingList
	var opts []client.ListOption
	if !o.AllNamespaces {
		opts = append(opts, client.InNamespace(k.namespace))
	}
	if err := k.client.List(ctx, &list, opts...); err != nil {
		return fmt.Errorf("list NamespaceOffloadings (is Liqo installed?): %w", err)
	}
	if !o.output.humanReadable() {
		return o.output.Print(o.Out, &list, nil)
	}
	if len(list.Items) == 0 {
		if o.AllNamespaces {
			fmt.Fprintln(o.ErrOut, "No offloaded namespaces found.")
		} else {
			fmt.Fprintf(o.ErrOut, "Namespace %s is not offloaded (kubectl xr offload list -A lists every namespace).\n", k.namespace)
		}
		return nil
	}
	namespaces := map[string]*corev1.Namespace{}
	for _, no := range list.Items {
		ns := &corev1.Namespace{}
		if err := k.client.Get(ctx, client.ObjectKey{Name: no.Namespace}, ns); err == nil {
			namespaces[no.Namespace] = ns
		}
	}
	return o.output.Print(o.Out, &list, func() *metav1.Table { return offloadTable(list.Items, namespaces, time.Now()) })
}

// offloadTable is offload list's table: each NamespaceOffloading with its namespace's
// class hint and whether xr-webhook places its pods; AGE is counted to now.
func offloadTable(items []offloadingv1beta1.NamespaceOffloading, namespaces map[string]*corev1.Namespace, now time.Time) *metav1.Table {
	var rows [][]any
	var objects []runtime.Object
	for i := range items {
		no := &items[i]
		objects = append(objects, no)
		ns := namespaces[no.Namespace]
		if ns == nil {
			ns = &corev1.Namespace{}
		}
		enabled := "no"
		if ns.Labels[policy.LabelEnabled] == "true" {
			enabled = "yes"
		}
		strategy := string(no.Spec.PodOffloadingStrategy)
		rows = append(rows, []any{no.Namespace, orDash(strategy), selectorString(no.Spec.ClusterSelector),
			orDash(ns.Annotations[policy.AnnotationLatencyClass]), enabled, orDash(string(no.Status.OffloadingPhase)),
			string(no.Spec.NamespaceMappingStrategy), duration.HumanDuration(now.Sub(no.CreationTimestamp.Time))})
	}
	return newTable([]column{{name: "NAMESPACE"}, {name: "STRATEGY"}, {name: "CLUSTERS"}, {name: "CLASS"},
		{name: "XR PLACEMENT"}, {name: "PHASE"}, {name: "MAPPING", wide: true}, {name: "AGE"}}, rows, objects)
}

// OffloadRemoveOptions stops offloading a namespace.
type OffloadRemoveOptions struct {
	Timeout time.Duration
	genericiooptions.IOStreams
	getter genericclioptions.RESTClientGetter
	dryRun *dryRun
}

func newCmdOffloadRemove(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &OffloadRemoveOptions{IOStreams: streams, getter: f}
	cmd := &cobra.Command{
		Use:   "remove NAMESPACE",
		Short: "Stop offloading a namespace (Liqo's unoffload) and disable latency placement in it",
		Long: "Runs Liqo's unoffload code, which deletes the namespace's twins on the providers and the pods\n" +
			"running there, then removes the kubexr.io/enabled label and the default class.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.dryRun.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context(), args[0])
		},
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return completeNames(f, "namespaces", ""), cobra.ShellCompDirectiveNoFileComp
		},
	}
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 2*time.Minute, "how long to wait for Liqo")
	o.dryRun = addDryRun(cmd)
	return cmd
}

// Run unoffloads the namespace and opts it out.
func (o *OffloadRemoveOptions) Run(ctx context.Context, namespace string) error {
	k, err := newKube(o.getter)
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{}
	if err := k.client.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace %q not found", namespace)
		}
		return err
	}
	switch {
	case o.dryRun.none():
		f, err := localLiqoFactory(o.getter, o.ErrOut)
		if err != nil {
			return err
		}
		u := &unoffload.Options{Factory: f, Namespaces: []string{namespace}, Timeout: o.Timeout}
		if err := u.Run(ctx); err != nil {
			return fmt.Errorf("unoffload namespace %s with Liqo: %w", namespace, err)
		}
	case o.dryRun.server():
		// Liqo's unoffload has no dry run: the deletion it starts is judged instead.
		nsoff := &offloadingv1beta1.NamespaceOffloading{ObjectMeta: metav1.ObjectMeta{Name: xrkube.NamespaceOffloadingName, Namespace: namespace}}
		if err := k.client.Delete(ctx, nsoff, o.dryRun.deleteOpts()...); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("unoffload namespace %s (server dry run): %w", namespace, err)
		}
	}
	if !o.dryRun.client() {
		patch := client.MergeFrom(ns.DeepCopy())
		delete(ns.Labels, policy.LabelEnabled)
		delete(ns.Annotations, policy.AnnotationLatencyClass)
		delete(ns.Annotations, policy.AnnotationMove)
		if err := k.client.Patch(ctx, ns, patch, o.dryRun.patchOpts()...); err != nil {
			return fmt.Errorf("disable xr-webhook in namespace %s: %w", namespace, err)
		}
	}
	fmt.Fprintf(o.Out, "namespace/%s no longer offloaded; latency placement disabled%s\n", namespace, o.dryRun.suffix())
	return nil
}
