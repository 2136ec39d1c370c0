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
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// explainKinds are the hinted kinds that make pods (all but Namespace).
var explainKinds = xrkube.HintedKindNames(func(k xrkube.HintedKind) bool { return k.PodSpec() != nil })

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
	hinted, ok := xrkube.HintedKindOf(kind)
	if !ok || hinted.PodSpec() == nil {
		return fmt.Errorf("cannot explain a %s: use one of %s", kind, strings.Join(explainKinds, ", "))
	}
	u := info.Object.(*unstructured.Unstructured)
	// The pod to explain: the pod itself, or one the workload would create now.
	var pod corev1.Pod
	if kind == "Pod" {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &pod); err != nil {
			return err
		}
	} else {
		var tmpl corev1.PodTemplateSpec
		raw, _, _ := unstructured.NestedMap(u.Object, hinted.PodTemplate...)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &tmpl); err != nil {
			return err
		}
		pod = corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
		pod.Name = hinted.Name() + "/" + u.GetName() + " (template)"
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: u.GetAPIVersion(), Kind: kind, Name: u.GetName(), Controller: ptr.To(true)}}
	}
	ns := info.Namespace
	st, err := o.state(ctx, ns)
	if err != nil {
		return err
	}
	srcs, err := xrkube.HintSources(ctx, xrkube.MetadataReader{Reader: o.kube.client}, &pod.ObjectMeta, ns)
	if err != nil {
		return err
	}
	w := o.Out
	fmt.Fprintf(w, "%s %s/%s\n\n", kind, ns, u.GetName())
	ev, err := policy.Evaluate(policy.Input{Sources: srcs.Hints, Classes: st.classes, Inventory: st.inventory,
		Offloading: st.selection, Now: o.now()})
	if err != nil {
		fmt.Fprintf(w, "Hint:        malformed: %v\n             xr-webhook refuses to create such pods.\n", err)
		return nil
	}
	if !ev.Hint.Present() {
		fmt.Fprintln(w, "Hint:        none (no kubexr.io annotation on the pod, its owners or the namespace)")
		fmt.Fprintln(w, "             xr-webhook leaves such pods alone.")
		return nil
	}
	decision := ev.Decision
	printHint(w, ev.Hint, decision)
	if !st.enabled {
		fmt.Fprintf(w, "\nWarning: namespace %s is not enabled for xr-webhook (label kubexr.io/enabled=true, set by kubectl xr offload): its pods are NOT placed.\n", ns)
	}
	printClusters(w, ev)
	printConstraints(w, kind, &pod, decision)
	if kind == "Pod" {
		return o.printPlacement(ctx, w, []corev1.Pod{pod}, st, ev)
	}
	pods, err := o.workloadPods(ctx, u)
	if err != nil {
		return err
	}
	return o.printPlacement(ctx, w, pods, st, ev)
}

// workloadPods are the pods a workload made: those its selector matches, or for a
// CronJob (which has none) those of the Jobs it controls.
func (o *ExplainOptions) workloadPods(ctx context.Context, u *unstructured.Unstructured) ([]corev1.Pod, error) {
	ns := u.GetNamespace()
	if u.GetKind() == "CronJob" {
		var jobs batchv1.JobList
		if err := o.kube.client.List(ctx, &jobs, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("list Jobs: %w", err)
		}
		var out []corev1.Pod
		for i := range jobs.Items {
			if owner := metav1.GetControllerOfNoCopy(&jobs.Items[i]); owner == nil || owner.UID != u.GetUID() {
				continue
			}
			job, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&jobs.Items[i])
			if err != nil {
				return nil, err
			}
			pods, err := o.workloadPods(ctx, &unstructured.Unstructured{Object: job})
			if err != nil {
				return nil, err
			}
			out = append(out, pods...)
		}
		return out, nil
	}
	raw, found, _ := unstructured.NestedMap(u.Object, "spec", "selector")
	if !found {
		return nil, nil
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &ls); err != nil {
		return nil, fmt.Errorf("%s selector: %w", u.GetKind(), err)
	}
	selector, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return nil, fmt.Errorf("%s selector: %w", u.GetKind(), err)
	}
	var pods corev1.PodList
	if err := o.kube.client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	return pods.Items, nil
}

// explainState is the cluster state a decision reads.
type explainState struct {
	classes    policy.ClassSet
	inventory  *policy.Inventory
	offloading *offloadingv1beta1.NamespaceOffloading
	// selection is what the NamespaceOffloading allows against inventory (nil: not offloaded).
	selection *policy.Offloading
	enabled   bool
	// nodeCluster maps virtual node names to their cluster id; nodeReady to their readiness.
	nodeCluster map[string]string
	nodeReady   map[string]bool
}

func (o *ExplainOptions) state(ctx context.Context, ns string) (*explainState, error) {
	st := &explainState{nodeCluster: map[string]string{}, nodeReady: map[string]bool{}}
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
		st.nodeReady[nodes.Items[i].Name] = xrkube.NodeReady(&nodes.Items[i])
	}
	var conns networkingv1beta1.ConnectionList
	if err := o.kube.client.List(ctx, &conns); err != nil && !isNoMatch(err) {
		return nil, fmt.Errorf("list Liqo Connections: %w", err)
	}
	var namespaces metav1.PartialObjectMetadataList
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := o.kube.client.List(ctx, &namespaces, xrkube.TenantSelector); err != nil {
		return nil, fmt.Errorf("list Liqo tenant namespaces: %w", err)
	}
	params := policy.DefaultSmoothing()
	st.inventory = policy.NewInventory(xrkube.Observed(nodes.Items, conns.Items, xrkube.TenantsOf(namespaces.Items),
		o.now(), st.classes, params), params)
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
	fmt.Fprintf(w, "  Move:        %s    from %s\n  Move after:  %s    from %s\n", h.Move, h.MoveSource, h.MoveAfter, h.MoveAfterSource)
}

func boundText(d time.Duration) string {
	if d == 0 {
		return "unbounded"
	}
	return policy.FormatRTT(d)
}

// printClusters shows each cluster's verdict as policy.Evaluate gives it.
func printClusters(w io.Writer, ev policy.Evaluation) {
	fmt.Fprintln(w, "\nClusters:")
	local := "no"
	if ev.Decision.Local {
		local = "yes"
	}
	fmt.Fprintf(w, "  %-20s %-10s %s\n", "local nodes", "0", "eligible: "+local)
	for _, v := range ev.Verdicts() {
		rtt := "unknown"
		if v.HasRTT {
			rtt = policy.FormatRTT(v.RTT)
		}
		why := "eligible"
		if !v.Eligible {
			why = "not eligible: " + v.Reason
		}
		fmt.Fprintf(w, "  %-20s %-10s %s\n", v.ID, rtt, why)
	}
	if ev.Decision.Reason != "" {
		fmt.Fprintf(w, "  Reason:      %s\n", ev.Decision.Reason)
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

func (o *ExplainOptions) printPlacement(_ context.Context, w io.Writer, pods []corev1.Pod, st *explainState, ev policy.Evaluation) error {
	fmt.Fprintln(w, "\nPods:")
	if len(pods) == 0 {
		fmt.Fprintln(w, "  none")
		return nil
	}
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	for i := range pods {
		p := &pods[i]
		if p.Spec.NodeName == "" {
			fmt.Fprintf(w, "  %-40s %s (not scheduled)%s\n", p.Name, p.Status.Phase, strandedText(p, ev))
			continue
		}
		where, rtt := "local", "0"
		cluster, remote := st.nodeCluster[p.Spec.NodeName]
		if remote {
			where, rtt = cluster, "unknown"
		}
		ready, known := st.nodeReady[p.Spec.NodeName]
		a := ev.Assess(cluster, ready || !known)
		if a.HasRTT {
			rtt = policy.FormatRTT(a.RTT)
		}
		fmt.Fprintf(w, "  %-40s %-10s on %-22s cluster %-16s RTT %-10s %s\n", p.Name, p.Status.Phase, p.Spec.NodeName, where, rtt,
			o.podVerdict(p, cluster, ev, a))
	}
	return nil
}

// podVerdict: within the bound, or why not and what the mover will do about it.
func (o *ExplainOptions) podVerdict(p *corev1.Pod, cluster string, ev policy.Evaluation, a policy.Assessment) string {
	bound := ev.Decision.Bound
	switch {
	case a.Within && (!a.HasRTT || bound == 0 || a.RTT <= bound):
		return "within bound"
	case a.Within:
		return "over its bound " + boundText(bound) + " by less than the move margin: stays"
	}
	out := "OUTSIDE ITS BOUND (" + a.Detail + ")"
	if ev.Hint.Move != policy.MoveAuto {
		return out + "; will not move: kubexr.io/move is never (from " + ev.Hint.MoveSource.String() + ")"
	}
	if why := policy.NotRecreated(metav1.GetControllerOfNoCopy(p)); why != "" {
		return out + "; will not move: " + why
	}
	if !ev.HasAlternative(cluster) {
		return out + "; will not move: no other cluster qualifies now"
	}
	since, err := time.Parse(time.RFC3339, p.Annotations[policy.AnnotationOutOfBoundSince])
	if err != nil {
		return out + "; moves " + ev.Hint.MoveAfter.String() + " after xr-webhook sees it"
	}
	now := o.now()
	wait := ev.MoveDue(since).Sub(now)
	if wait <= 0 {
		return fmt.Sprintf("%s for %s; moves now (one pod per workload at a time)", out, now.Sub(since).Round(time.Second))
	}
	return fmt.Sprintf("%s for %s, moves in %s", out, now.Sub(since).Round(time.Second), wait.Round(time.Second))
}

// strandedText explains a Pending pod admitted while no cluster qualified.
func strandedText(p *corev1.Pod, ev policy.Evaluation) string {
	rec, err := policy.ParseRecord(p.Annotations[policy.AnnotationDecision])
	if err != nil || !rec.Stranded() {
		return ""
	}
	if !ev.Decision.Eligible() {
		return ": admitted while no cluster qualified; waits until one does"
	}
	if why := policy.NotRecreated(metav1.GetControllerOfNoCopy(p)); why != "" {
		return ": admitted while no cluster qualified; one does now, but " + why + ": delete and recreate it"
	}
	return ": admitted while no cluster qualified; one does now, so xr-webhook replaces it"
}
