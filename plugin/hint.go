package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/resource"

	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// hintKinds are the kinds that may carry hints, as kubectl spells them.
var hintKinds = xrkube.HintedKindNames(nil)

// HintOptions annotates one object with a latency hint.
type HintOptions struct {
	Class, MaxRTT, Placement string
	Clear                    bool

	genericiooptions.IOStreams
	getter genericclioptions.RESTClientGetter
	args   []string
	kube   *kube
	dryRun *dryRun
}

// NewCmdHint builds `kubectl xr hint`.
func NewCmdHint(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &HintOptions{IOStreams: streams, getter: f}
	cmd := &cobra.Command{
		Use:   "hint TYPE/NAME (--class C | --max-rtt D | --placement P | --clear)",
		Short: "Set or clear the latency hint of a workload, pod or namespace",
		Long: "Annotate a Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod or Namespace with\n" +
			"kubexr.io/latency-class, kubexr.io/max-rtt or kubexr.io/placement, checked as xr-webhook checks them.\n" +
			"New pods follow the hint; existing pods keep their placement until recreated.",
		Example: `  # Pods of the stream Deployment only on clusters within the "low" class (20ms)
  kubectl xr hint deploy/stream --class low

  # A namespace default, and an explicit bound on one workload
  kubectl xr hint ns/xr-demo --class interactive
  kubectl xr hint deploy/render --max-rtt 8ms --placement remote

  # Remove every hint from a workload
  kubectl xr hint deploy/stream --clear`,
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
		ValidArgsFunction: completeTypeName(f, hintKinds),
	}
	cmd.Flags().StringVar(&o.Class, "class", "", "LatencyClass the pods' cluster must meet (kubectl xr classes)")
	cmd.Flags().StringVar(&o.MaxRTT, "max-rtt", "", `explicit round-trip bound, e.g. "15ms"`)
	cmd.Flags().StringVar(&o.Placement, "placement", "", "any, local or remote")
	cmd.Flags().BoolVar(&o.Clear, "clear", false, "remove the hint annotations")
	o.dryRun = addDryRun(cmd)
	_ = cmd.RegisterFlagCompletionFunc("class", completeClasses(f))
	_ = cmd.RegisterFlagCompletionFunc("placement", cobra.FixedCompletions(
		[]string{string(policy.PlacementAny), string(policy.PlacementLocal), string(policy.PlacementRemote)}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete resolves the clients.
func (o *HintOptions) Complete(args []string) error {
	o.args = args
	if err := o.dryRun.Complete(); err != nil {
		return err
	}
	k, err := newKube(o.getter)
	if err != nil {
		return err
	}
	o.kube = k
	return nil
}

// annotations is the merge patch of the hint annotations (nil values delete).
func (o *HintOptions) annotations() map[string]*string {
	set := map[string]*string{}
	if o.Clear {
		for _, k := range []string{policy.AnnotationLatencyClass, policy.AnnotationMaxRTT, policy.AnnotationPlacement} {
			set[k] = nil
		}
		return set
	}
	for k, v := range map[string]string{policy.AnnotationLatencyClass: o.Class, policy.AnnotationMaxRTT: o.MaxRTT, policy.AnnotationPlacement: o.Placement} {
		if v != "" {
			set[k] = &v
		}
	}
	return set
}

// Validate checks the flags and the values with policy's parser and the cluster's classes.
func (o *HintOptions) Validate(ctx context.Context) error {
	given := o.Class != "" || o.MaxRTT != "" || o.Placement != ""
	switch {
	case o.Clear && given:
		return errors.New("--clear cannot be combined with --class, --max-rtt or --placement")
	case !o.Clear && !given:
		return errors.New("nothing to set: give --class, --max-rtt, --placement or --clear")
	case o.Clear:
		return nil
	}
	classes, err := clusterClasses(ctx, o.kube)
	if err != nil {
		return err
	}
	values := map[string]string{}
	for k, v := range o.annotations() {
		values[k] = *v
	}
	return policy.ValidateAnnotations(values, classes)
}

// Run patches the object's annotations.
func (o *HintOptions) Run(ctx context.Context) error {
	info, err := resolveOne(o.getter, o.kube, o.args)
	if err != nil {
		return err
	}
	if _, ok := xrkube.HintedKindOf(info.Mapping.GroupVersionKind.Kind); !ok {
		return fmt.Errorf("%s cannot carry a latency hint: use one of %s",
			info.Mapping.GroupVersionKind.Kind, strings.Join(hintKinds, ", "))
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": o.annotations()}})
	if err != nil {
		return err
	}
	if !o.dryRun.client() {
		helper := resource.NewHelper(info.Client, info.Mapping).DryRun(o.dryRun.server()).WithFieldManager(FieldManager)
		if _, err := helper.Patch(info.Namespace, info.Name, types.MergePatchType, patch, nil); err != nil {
			return fmt.Errorf("annotate %s: %w", kindName(info), err)
		}
	}
	verb := "hinted"
	if o.Clear {
		verb = "hint cleared"
	}
	fmt.Fprintf(o.Out, "%s %s%s\n", kindName(info), verb, o.dryRun.suffix())
	if info.Mapping.GroupVersionKind.Kind == "Pod" {
		fmt.Fprintln(o.ErrOut, "Warning: a running pod keeps its placement; the hint applies to pods created from now on")
	}
	return nil
}

// clusterClasses are the cluster's LatencyClasses (the compiled-in defaults when it has
// none), as xr-webhook uses them.
func clusterClasses(ctx context.Context, k *kube) (policy.ClassSet, error) {
	var lcs xrv1.LatencyClassList
	if err := k.client.List(ctx, &lcs); err != nil && !isNoMatch(err) {
		return policy.ClassSet{}, fmt.Errorf("list LatencyClasses: %w", err)
	}
	set, err := xrkube.ClassSet(lcs.Items)
	if err != nil {
		return set, fmt.Errorf("the cluster's LatencyClasses: %w", err)
	}
	return set, nil
}

// resolveOne resolves TYPE/NAME (kubectl short names work) to exactly one object.
func resolveOne(f genericclioptions.RESTClientGetter, k *kube, args []string) (*resource.Info, error) {
	r := resource.NewBuilder(f).Unstructured().
		NamespaceParam(k.namespace).DefaultNamespace().
		ResourceTypeOrNameArgs(true, args...).SingleResourceType().Flatten().Do()
	infos, err := r.Infos()
	if err != nil {
		return nil, err
	}
	if len(infos) != 1 {
		return nil, fmt.Errorf("%q names %d objects, want exactly one (use TYPE/NAME)", strings.Join(args, " "), len(infos))
	}
	return infos[0], nil
}

// kindName names an object as kubectl prints it: deployment.apps/stream, namespace/xr.
func kindName(info *resource.Info) string {
	return qualifiedKind(info.Mapping.GroupVersionKind) + "/" + info.Name
}
