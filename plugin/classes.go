package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// ClassesOptions lists the LatencyClasses and the clusters meeting each now.
type ClassesOptions struct {
	output *listOutput

	genericiooptions.IOStreams
	getter genericclioptions.RESTClientGetter
	kube   *kube
}

// NewCmdClasses builds `kubectl xr classes`.
func NewCmdClasses(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ClassesOptions{IOStreams: streams, getter: f}
	cmd := &cobra.Command{
		Use:     "classes",
		Aliases: []string{"class", "lc"},
		Short:   "List the latency classes, their bounds and which peered clusters meet each now",
		Long: "A cluster meets a class when its smoothed RTT, as xr-webhook's observer last labelled its\n" +
			"virtual nodes (kubexr.io/latency-class), is within the class's bound.",
		Example: "  kubectl xr classes\n  kubectl xr classes -o wide\n  kubectl xr classes -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.output = addListOutput(cmd)
	return cmd
}

// Complete checks the output format and resolves the clients.
func (o *ClassesOptions) Complete() error {
	if err := o.output.Validate(); err != nil {
		return err
	}
	k, err := newKube(o.getter)
	o.kube = k
	return err
}

// Run prints the classes.
func (o *ClassesOptions) Run(ctx context.Context) error {
	var lcs xrv1.LatencyClassList
	if err := o.kube.client.List(ctx, &lcs); err != nil && !isNoMatch(err) {
		return fmt.Errorf("list LatencyClasses: %w", err)
	}
	if !o.output.humanReadable() {
		return o.output.Print(o.Out, &lcs, nil)
	}
	classes, err := xrkube.ClassSet(lcs.Items)
	if err != nil {
		fmt.Fprintf(o.ErrOut, "Warning: %v\n", err)
	}
	if len(lcs.Items) == 0 {
		fmt.Fprintln(o.ErrOut, "No LatencyClass objects found: the compiled-in defaults apply (install them with kubectl xr install).")
	}
	meeting, err := clustersMeeting(ctx, o.kube.client, classes)
	if err != nil {
		return err
	}
	return o.output.Print(o.Out, &lcs, func() *metav1.Table { return classesTable(classes, lcs.Items, meeting) })
}

// classesTable: the rows are the classes in effect (the defaults when none is stored),
// each with its LatencyClass object for --show-labels and --sort-by, and the clusters
// meeting it now.
func classesTable(classes policy.ClassSet, stored []xrv1.LatencyClass, meeting map[string][]string) *metav1.Table {
	byName := map[string]*xrv1.LatencyClass{}
	for i := range stored {
		byName[stored[i].Name] = &stored[i]
	}
	var rows [][]any
	var objects []runtime.Object
	for _, c := range classes.Classes() {
		bound := "unbounded"
		if c.Bounded() {
			bound = policy.FormatRTT(c.MaxRTT)
		}
		rows = append(rows, []any{c.Name, bound, orDash(strings.Join(meeting[c.Name], ",")), c.Description})
		obj := byName[c.Name]
		if obj == nil {
			obj = &xrv1.LatencyClass{ObjectMeta: metav1.ObjectMeta{Name: c.Name}}
		}
		objects = append(objects, obj)
	}
	return newTable([]column{{name: "NAME"}, {name: "MAX RTT"}, {name: "CLUSTERS MEETING NOW"}, {name: "DESCRIPTION", wide: true}}, rows, objects)
}

// clustersMeeting maps each class to the peered clusters that meet it now, according to
// the class label xr-webhook's observer keeps on their virtual nodes. A cluster meets its
// labelled class and every looser one; unlabelled clusters only unbounded classes.
func clustersMeeting(ctx context.Context, c client.Client, classes policy.ClassSet) (map[string][]string, error) {
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes, client.MatchingLabels{policy.LiqoTypeLabel: policy.LiqoTypeVirtualNode}); err != nil {
		return nil, fmt.Errorf("list virtual nodes: %w", err)
	}
	order := map[string]int{}
	for i, cl := range classes.Classes() {
		order[cl.Name] = i
	}
	tightest := map[string]int{} // cluster -> class index it meets (len = none)
	for i := range nodes.Items {
		id := xrkube.VirtualNodeCluster(&nodes.Items[i])
		idx, ok := order[nodes.Items[i].Labels[policy.LabelLatencyClass]]
		if !ok {
			idx = len(order)
		}
		if prev, seen := tightest[id]; !seen || idx > prev {
			tightest[id] = idx // the worst of a cluster's nodes
		}
	}
	out := map[string][]string{}
	for id, idx := range tightest {
		for i, cl := range classes.Classes() {
			if i >= idx || !cl.Bounded() {
				out[cl.Name] = append(out[cl.Name], id)
			}
		}
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out, nil
}
