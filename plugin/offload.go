package plugin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	"github.com/liqotech/liqo/pkg/liqoctl/offload"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

var offloadStrategies = []string{policy.StrategyLocalAndRemote, policy.StrategyRemote, policy.StrategyLocal}

// OffloadOptions offloads a namespace with Liqo and opts it in to xr-webhook.
type OffloadOptions struct {
	Class    string
	Move     string
	Strategy string
	Clusters string
	Mapping  string
	Output   string
	Timeout  time.Duration

	genericiooptions.IOStreams
	getter    genericclioptions.RESTClientGetter
	namespace string
	kube      *kube
	liqo      *offload.Options
	dryRun    *dryRun
}

// NewCmdOffload builds `kubectl xr offload` and its list and remove subcommands.
func NewCmdOffload(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &OffloadOptions{IOStreams: streams, getter: f}
	cmd := &cobra.Command{
		Use:   "offload NAMESPACE [--class C] [--strategy S] [--clusters SELECTOR]",
		Short: "Offload a namespace to the peered clusters with Liqo and enable latency placement in it",
		Long: "Creates or updates the namespace's Liqo NamespaceOffloading as liqoctl offload does (Liqo's own\n" +
			"code), labels the namespace kubexr.io/enabled=true so xr-webhook places its pods, and sets its\n" +
			"default latency class.",
		Example: `  # Offload xr-demo to every peered cluster; pods default to the "low" class
  kubectl xr offload xr-demo --class low

  # Only to edge clusters, pods only remote
  kubectl xr offload xr-demo --strategy Remote --clusters topology.kubernetes.io/region=edge

  # Keep running pods where they are even when their cluster leaves their bound
  kubectl xr offload xr-demo --class low --move never

  # Show what would be applied; have the API server (and Liqo's webhook) judge it
  kubectl xr offload xr-demo --class low --dry-run=client -o yaml
  kubectl xr offload xr-demo --class low --dry-run=server`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(cmd.Context()); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return completeNames(f, "namespaces", ""), cobra.ShellCompDirectiveNoFileComp
		},
	}
	cmd.Flags().StringVar(&o.Class, "class", "", "default LatencyClass of the namespace's pods")
	cmd.Flags().StringVar(&o.Move, "move", string(policy.MoveAuto),
		"namespace default for moving running pods off a cluster that leaves their bound: auto or never (kubexr.io/move)")
	cmd.Flags().StringVar(&o.Strategy, "strategy", policy.StrategyLocalAndRemote, "pod offloading strategy: LocalAndRemote, Remote or Local")
	cmd.Flags().StringVar(&o.Clusters, "clusters", "", "label selector on the virtual nodes of the clusters to offload to (default: all)")
	cmd.Flags().StringVar(&o.Mapping, "namespace-mapping", string(offloadingv1beta1.DefaultNameMappingStrategyType),
		"remote namespace name: DefaultName or EnforceSameName (immutable once offloaded)")
	o.dryRun = addDryRun(cmd)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "with --dry-run=client|server: print the objects as yaml or json")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 2*time.Minute, "how long to wait for Liqo to offload the namespace")
	_ = cmd.RegisterFlagCompletionFunc("class", completeClasses(f))
	_ = cmd.RegisterFlagCompletionFunc("move", cobra.FixedCompletions([]string{string(policy.MoveAuto), string(policy.MoveNever)}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("strategy", cobra.FixedCompletions(offloadStrategies, cobra.ShellCompDirectiveNoFileComp))
	cmd.AddCommand(newCmdOffloadList(f, streams), newCmdOffloadRemove(f, streams))
	return cmd
}

// Complete resolves the clients and Liqo's offload options.
func (o *OffloadOptions) Complete(args []string) error {
	o.namespace = args[0]
	k, err := newKube(o.getter)
	if err != nil {
		return err
	}
	o.kube = k
	f, err := localLiqoFactory(o.getter, o.ErrOut)
	if err != nil {
		return err
	}
	o.liqo = &offload.Options{
		Factory:                  f,
		Namespaces:               []string{o.namespace},
		PodOffloadingStrategy:    offloadingv1beta1.PodOffloadingStrategyType(o.Strategy),
		NamespaceMappingStrategy: offloadingv1beta1.NamespaceMappingStrategyType(o.Mapping),
		Timeout:                  o.Timeout,
	}
	if o.Clusters != "" {
		if err := o.liqo.ParseClusterSelectors([]string{o.Clusters}); err != nil {
			return fmt.Errorf("--clusters %q is not a label selector (use e.g. region=edge or 'tier in (edge,metro)'): %w", o.Clusters, err)
		}
	}
	return nil
}

// Validate checks the choices.
func (o *OffloadOptions) Validate(ctx context.Context) error {
	if !slices.Contains(offloadStrategies, o.Strategy) {
		return fmt.Errorf("--strategy %q is not a pod offloading strategy: use LocalAndRemote, Remote or Local", o.Strategy)
	}
	if o.Mapping != string(offloadingv1beta1.DefaultNameMappingStrategyType) && o.Mapping != string(offloadingv1beta1.EnforceSameNameMappingStrategyType) {
		return fmt.Errorf("--namespace-mapping %q is not supported: use DefaultName or EnforceSameName", o.Mapping)
	}
	if err := o.dryRun.Complete(); err != nil {
		return err
	}
	if err := validateDryRunOutput(o.dryRun, o.Output); err != nil {
		return fmt.Errorf("%w (kubectl xr offload list prints offloaded namespaces)", err)
	}
	if o.Move != string(policy.MoveAuto) && o.Move != string(policy.MoveNever) {
		return fmt.Errorf("--move %q is not a move policy: use auto (move pods off a cluster that leaves their bound) or never", o.Move)
	}
	if o.Class == "" {
		return nil
	}
	classes, err := clusterClasses(ctx, o.kube)
	if err != nil {
		return err
	}
	return policy.ValidateAnnotations(map[string]string{policy.AnnotationLatencyClass: o.Class}, classes)
}

// Run applies (or prints) the NamespaceOffloading and the namespace's opt-in.
func (o *OffloadOptions) Run(ctx context.Context) error {
	ns := &corev1.Namespace{}
	err := o.kube.client.Get(ctx, client.ObjectKey{Name: o.namespace}, ns)
	switch {
	case apierrors.IsNotFound(err) && o.dryRun.client():
		ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.namespace}}
	case apierrors.IsNotFound(err):
		return fmt.Errorf("namespace %q not found: create it first (kubectl create namespace %s)", o.namespace, o.namespace)
	case err != nil:
		return fmt.Errorf("get namespace %s: %w", o.namespace, err)
	}
	if !o.dryRun.none() {
		return o.runDry(ctx, ns)
	}
	patch := client.MergeFrom(ns.DeepCopy())
	o.optIn(ns)
	// The opt-in first as a server dry run: it passes through xr-webhook's validation,
	// so an xr-webhook that does not answer (or refuses the hint) stops the command
	// before Liqo offloads anything, instead of leaving the namespace offloaded without
	// latency placement.
	if err := o.kube.client.Patch(ctx, ns.DeepCopy(), patch, client.DryRunAll); err != nil {
		return fmt.Errorf("enable xr-webhook in namespace %s (checked before offloading; nothing changed): %w", o.namespace, err)
	}
	if err := o.liqo.Run(ctx); err != nil {
		return fmt.Errorf("offload namespace %s with Liqo: %w", o.namespace, err)
	}
	if err := o.kube.client.Patch(ctx, ns, patch); err != nil {
		return fmt.Errorf("enable xr-webhook in namespace %s: %w (Liqo offloaded it: run this command again, or kubectl xr offload remove %s)", o.namespace, err, o.namespace)
	}
	clusters := "all peered clusters"
	if o.Clusters != "" {
		clusters = "clusters matching " + o.Clusters
	}
	class := ""
	if o.Class != "" {
		class = ", default class " + o.Class
	}
	fmt.Fprintf(o.Out, "namespace/%s offloaded (%s, %s%s, move %s); latency placement enabled%s\n",
		o.namespace, o.Strategy, clusters, class, o.Move, o.dryRun.suffix())
	return nil
}

// runDry prints (client) or has the API server judge (server) the namespace's opt-in and
// the NamespaceOffloading liqoctl offload would create or update. Liqo's offload code has
// no dry run, so the server dry run writes the same objects itself, with dryRun=All.
func (o *OffloadOptions) runDry(ctx context.Context, ns *corev1.Namespace) error {
	opted := ns.DeepCopy()
	o.optIn(opted)
	nsoff := o.namespaceOffloading()
	if o.dryRun.server() {
		if err := o.kube.client.Patch(ctx, opted, client.MergeFrom(ns), o.dryRun.patchOpts()...); err != nil {
			return fmt.Errorf("enable xr-webhook in namespace %s: %w", o.namespace, err)
		}
		existing := &offloadingv1beta1.NamespaceOffloading{}
		err := o.kube.client.Get(ctx, client.ObjectKeyFromObject(nsoff), existing)
		switch {
		case apierrors.IsNotFound(err):
			err = o.kube.client.Create(ctx, nsoff, o.dryRun.createOpts()...)
		case err == nil:
			existing.Spec = nsoff.Spec
			err = o.kube.client.Update(ctx, existing, client.DryRunAll)
			nsoff = existing
		}
		if err != nil {
			return fmt.Errorf("offload namespace %s (server dry run): %w", o.namespace, err)
		}
	}
	if o.Output == "" {
		fmt.Fprintf(o.Out, "namespace/%s offloaded (%s); latency placement enabled%s\n", o.namespace, o.Strategy, o.dryRun.suffix())
		return nil
	}
	opted.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	nsoff.SetGroupVersionKind(offloadingv1beta1.SchemeGroupVersion.WithKind("NamespaceOffloading"))
	list := &corev1.List{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("List"))
	list.Items = append(list.Items, rawOf(opted), rawOf(nsoff))
	return printObject(o.Out, o.Output, list)
}

// optIn labels the namespace for xr-webhook and sets its default class and move policy.
func (o *OffloadOptions) optIn(ns *corev1.Namespace) {
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[policy.LabelEnabled] = "true"
	if ns.Annotations == nil {
		ns.Annotations = map[string]string{}
	}
	ns.Annotations[policy.AnnotationMove] = o.Move
	if o.Class != "" {
		ns.Annotations[policy.AnnotationLatencyClass] = o.Class
	}
}

// namespaceOffloading is the object liqoctl offload creates for the same choices.
func (o *OffloadOptions) namespaceOffloading() *offloadingv1beta1.NamespaceOffloading {
	nsoff := &offloadingv1beta1.NamespaceOffloading{
		ObjectMeta: metav1.ObjectMeta{Name: xrkube.NamespaceOffloadingName, Namespace: o.namespace},
		Spec: offloadingv1beta1.NamespaceOffloadingSpec{
			PodOffloadingStrategy:    o.liqo.PodOffloadingStrategy,
			NamespaceMappingStrategy: o.liqo.NamespaceMappingStrategy,
			ClusterSelector:          corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{}},
		},
	}
	for _, sel := range o.liqo.ClusterSelector {
		var reqs []corev1.NodeSelectorRequirement
		for _, r := range sel {
			reqs = append(reqs, corev1.NodeSelectorRequirement{Key: r.Key, Operator: corev1.NodeSelectorOperator(r.Operator), Values: r.Values})
		}
		nsoff.Spec.ClusterSelector.NodeSelectorTerms = append(nsoff.Spec.ClusterSelector.NodeSelectorTerms,
			corev1.NodeSelectorTerm{MatchExpressions: reqs})
	}
	nsoff.SetGroupVersionKind(offloadingv1beta1.SchemeGroupVersion.WithKind("NamespaceOffloading"))
	return nsoff
}

func selectorString(sel corev1.NodeSelector) string {
	var terms []string
	for _, t := range sel.NodeSelectorTerms {
		var reqs []string
		for _, r := range t.MatchExpressions {
			reqs = append(reqs, fmt.Sprintf("%s %s (%s)", r.Key, strings.ToLower(string(r.Operator)), strings.Join(r.Values, ",")))
		}
		terms = append(terms, strings.Join(reqs, ", "))
	}
	if len(terms) == 0 {
		return "all"
	}
	return strings.Join(terms, " | ")
}
