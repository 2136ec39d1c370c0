package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

var explainKinds = []string{"Pod", "Deployment", "StatefulSet", "DaemonSet", "Job"}

// ExplainOptions explains the placement of a pod or a workload's pods.
type ExplainOptions struct {
	genericiooptions.IOStreams
	getter genericclioptions.RESTClientGetter
	kube   *kube
	now    func() time.Time
}

// NewCmdExplain builds `kubectl xr explain`.
func NewCmdExplain(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ExplainOptions{IOStreams: streams, getter: f, now: time.Now}
	return &cobra.Command{
		Use:   "explain TYPE/NAME",
		Short: "Explain where a pod or workload may run and why: hint, eligible clusters, constraints, actual placement",
		Example: `  kubectl xr explain deploy/stream -n xr-demo
  kubectl xr explain pod/stream-6d9c7-x2x8z -n xr-demo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := newKube(f)
			if err != nil {
				return err
			}
			o.kube = k
			return o.Run(cmd.Context(), args)
		},
		ValidArgsFunction: completeTypeName(f, explainKinds),
	}
}

// Run prints the explanation.
func (o *ExplainOptions) Run(ctx context.Context, args []string) error {
	info, err := resolveOne(o.getter, o.kube, args)
	if err != nil {
		return err
	}
	kind := info.Mapping.GroupVersionKind.Kind
	if !slices.Contains(explainKinds, kind) {
		return fmt.Errorf("cannot explain a %s: use pod, deployment, statefulset, daemonset or job", kind)
	}
	u := info.Object.(*unstructured.Unstructured)
	// The pod to explain: the pod itself, or one the workload would create now.
	var pod corev1.Pod
	var selector labels.Selector
	if kind == "Pod" {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &pod); err != nil {
			return err
		}
	} else {
		var tmpl corev1.PodTemplateSpec
		raw, _, _ := unstructured.NestedMap(u.Object, "spec", "template")
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &tmpl); err != nil {
			return err
		}
		pod = corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
		pod.Name = strings.ToLower(kind) + "/" + u.GetName() + " (template)"
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: u.GetAPIVersion(), Kind: kind, Name: u.GetName(), Controller: ptr.To(true)}}
		sel, _, _ := unstructured.NestedMap(u.Object, "spec", "selector")
		var ls metav1.LabelSelector
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(sel, &ls); err == nil {
			selector, _ = metav1.LabelSelectorAsSelector(&ls)
		}
	}
	ns := info.Namespace
	st, err := o.state(ctx, ns)
	if err != nil {
		return err
	}
	sources, err := xrkube.HintSources(ctx, xrkube.MetadataReader{Reader: o.kube.client}, &pod.ObjectMeta, ns)
	if err != nil {
		return err
	}
	w := o.Out
	fmt.Fprintf(w, "%s %s/%s\n\n", kind, ns, u.GetName())
	hint, err := policy.Resolve(sources, st.classes)
	if err != nil {
		fmt.Fprintf(w, "Hint:        malformed: %v\n             xr-webhook refuses to create such pods.\n", err)
		return nil
	}
	if !hint.Present() {
		fmt.Fprintln(w, "Hint:        none (no kubexr.io annotation on the pod, its owners or the namespace)")
		fmt.Fprintln(w, "             xr-webhook leaves such pods alone.")
		return nil
	}
	decision := st.inventory.Decide(policy.Request{Hint: hint, Classes: st.classes, Offloading: st.selection, Now: o.now()})
	printHint(w, hint, decision)
	if !st.enabled {
		fmt.Fprintf(w, "\nWarning: namespace %s is not enabled for xr-webhook (label kubexr.io/enabled=true, set by kubectl xr offload): its pods are NOT placed.\n", ns)
	}
	o.printClusters(w, st, decision)
	printConstraints(w, kind, &pod, decision)
	if kind == "Pod" {
		return o.printPlacement(ctx, w, []corev1.Pod{pod}, st, decision)
	}
	var pods corev1.PodList
	if selector != nil {
		if err := o.kube.client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: selector}); err != nil {
			return err
		}
	}
	return o.printPlacement(ctx, w, pods.Items, st, decision)
}

// explainState is the cluster state a decision reads.
type explainState struct {
	classes    policy.ClassSet
	inventory  *policy.Inventory
	offloading *offloadingv1beta1.NamespaceOffloading
	// selection is what the NamespaceOffloading allows against inventory (nil: not offloaded).
	selection *policy.Offloading
	enabled   bool
	// nodeCluster maps virtual node names to their cluster id.
	nodeCluster map[string]string
}

func (o *ExplainOptions) state(ctx context.Context, ns string) (*explainState, error) {
	st := &explainState{nodeCluster: map[string]string{}}
	var err error
	if st.classes, err = clusterClasses(ctx, o.kube); err != nil {
		return nil, err
	}
	var nodes corev1.NodeList
	if err := o.kube.client.List(ctx, &nodes, client.MatchingLabels{policy.LiqoTypeLabel: policy.LiqoTypeVirtualNode}); err != nil {
		return nil, fmt.Errorf("list virtual nodes: %w", err)
	}
	for i := range nodes.Items {
		st.nodeCluster[nodes.Items[i].Name] = xrkube.VirtualNodeCluster(&nodes.Items[i])
	}
	var conns networkingv1beta1.ConnectionList
	if err := o.kube.client.List(ctx, &conns); err != nil && !isNoMatch(err) {
		return nil, fmt.Errorf("list Liqo Connections: %w", err)
	}
	params := policy.DefaultSmoothing()
	st.inventory = policy.NewInventory(xrkube.Observed(nodes.Items, conns.Items, st.classes, params), params)
	no := &offloadingv1beta1.NamespaceOffloading{}
	switch err := o.kube.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: xrkube.NamespaceOffloadingName}, no); {
	case err == nil:
		st.offloading = no
	case !apierrors.IsNotFound(err) && !isNoMatch(err):
		return nil, fmt.Errorf("get NamespaceOffloading: %w", err)
	}
	st.selection = xrkube.Offloading(st.offloading, st.inventory)
	nsObj := &corev1.Namespace{}
	if err := o.kube.client.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err == nil {
		st.enabled = nsObj.Labels[policy.LabelEnabled] == "true"
	}
	return st, nil
}

func printHint(w io.Writer, h policy.Hint, d policy.Decision) {
	class := "-"
	if h.Class != "" {
		class = fmt.Sprintf("%s (%s)", h.Class, boundText(h.ClassMaxRTT))
	}
	maxRTT := "-"
	if h.MaxRTT > 0 {
		maxRTT = policy.FormatRTT(h.MaxRTT)
	}
	fmt.Fprintf(w, "Hint:\n  Class:       %s    from %s\n  Max RTT:     %s\n  Placement:   %s    from %s\n  Bound:       %s\n",
		class, h.BoundSource, maxRTT, h.Placement, h.PlacementSource, boundText(d.Bound))
	if note := h.Note(); note != "" {
		fmt.Fprintf(w, "  Note:        %s\n", note)
	}
}

func boundText(d time.Duration) string {
	if d == 0 {
		return "unbounded"
	}
	return policy.FormatRTT(d)
}

func (o *ExplainOptions) printClusters(w io.Writer, st *explainState, d policy.Decision) {
	fmt.Fprintln(w, "\nClusters:")
	local := "no"
	if d.Local {
		local = "yes"
	}
	fmt.Fprintf(w, "  %-20s %-10s %s\n", "local nodes", "0", "eligible: "+local)
	eligible := map[string]bool{}
	for _, c := range d.Remote {
		eligible[c.ID] = true
	}
	selected := policy.ClusterSet{}
	if off := st.selection; off != nil {
		selected = off.Selected
	}
	for i, c := range st.inventory.Clusters() {
		rtt := "unknown"
		if r, ok := c.RTT(); ok {
			rtt = policy.FormatRTT(r)
		}
		why := "eligible"
		switch {
		case eligible[c.ID]:
		case st.offloading == nil:
			why = "not eligible: the namespace is not offloaded with Liqo"
		case !selected.Has(i):
			why = "not eligible: not selected by the namespace's NamespaceOffloading"
		case c.Ineligibility(o.now(), st.inventory.Params()) != "" && d.Bound > 0:
			why = "not eligible: " + c.Ineligibility(o.now(), st.inventory.Params())
		case d.Hint.Placement == policy.PlacementLocal:
			why = "not eligible: placement local"
		default:
			why = "not eligible: over the bound " + boundText(d.Bound)
		}
		fmt.Fprintf(w, "  %-20s %-10s %s\n", c.ID, rtt, why)
	}
	if d.Reason != "" {
		fmt.Fprintf(w, "  Reason:      %s\n", d.Reason)
	}
}

func printConstraints(w io.Writer, kind string, pod *corev1.Pod, d policy.Decision) {
	title := "Constraints (would be injected into new pods now):"
	spec := pod.Spec.DeepCopy()
	if kind == "Pod" {
		title = "Constraints (injected when the pod was created):"
		if pod.Annotations[policy.AnnotationDecision] == "" {
			title = "Constraints: none injected (the pod was created without xr-webhook placing it); now it would get:"
			d.Apply(spec)
		}
	} else {
		d.Apply(spec)
	}
	fmt.Fprintln(w, "\n"+title)
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for i, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			var reqs []string
			for _, r := range t.MatchExpressions {
				if r.Key == policy.InjectedKey {
					continue // the marker, not a constraint
				}
				reqs = append(reqs, fmt.Sprintf("%s %s [%s]", r.Key, r.Operator, strings.Join(r.Values, ", ")))
			}
			fmt.Fprintf(w, "  required term %d: %s\n", i+1, strings.Join(reqs, " AND "))
		}
	}
	for _, t := range spec.Tolerations {
		if t.Key == policy.LiqoTolerationKey {
			fmt.Fprintf(w, "  toleration: %s %s %s\n", t.Key, t.Operator, t.Effect)
			break
		}
	}
}

func (o *ExplainOptions) printPlacement(_ context.Context, w io.Writer, pods []corev1.Pod, st *explainState, d policy.Decision) error {
	fmt.Fprintln(w, "\nPods:")
	if len(pods) == 0 {
		fmt.Fprintln(w, "  none")
		return nil
	}
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	for _, p := range pods {
		if p.Spec.NodeName == "" {
			fmt.Fprintf(w, "  %-40s %s (not scheduled)\n", p.Name, p.Status.Phase)
			continue
		}
		where, rtt, verdict := "local", "0", "within bound"
		if id, ok := st.nodeCluster[p.Spec.NodeName]; ok {
			where = id
			rtt, verdict = "unknown", "RTT unknown"
			if c, found := st.inventory.Get(id); found {
				if r, has := c.RTT(); has {
					rtt = policy.FormatRTT(r)
					verdict = "within bound"
					if d.Bound > 0 && r > d.Bound {
						verdict = "OUTSIDE ITS BOUND " + boundText(d.Bound)
					}
				}
			}
		}
		fmt.Fprintf(w, "  %-40s %-10s on %-22s cluster %-16s RTT %-10s %s\n", p.Name, p.Status.Phase, p.Spec.NodeName, where, rtt, verdict)
	}
	return nil
}
