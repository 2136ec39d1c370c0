package plugin

import (
	"context"
	"fmt"
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

	outputv1 "github.com/kubexr/kubectl-xr/api/output/v1alpha1"
	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// explainKinds are the hinted kinds that make pods (all but Namespace).
var explainKinds = xrkube.HintedKindNames(func(k xrkube.HintedKind) bool { return k.PodSpec() != nil })

// ExplainOptions explains the placement of a pod or a workload's pods.
type ExplainOptions struct {
	Output string
	genericiooptions.IOStreams
	getter genericclioptions.RESTClientGetter
	kube   *kube
	now    func() time.Time
}

// NewCmdExplain builds `kubectl xr explain`.
func NewCmdExplain(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ExplainOptions{IOStreams: streams, getter: f, now: time.Now}
	cmd := &cobra.Command{
		Use:   "explain TYPE/NAME",
		Short: "Explain where a pod or workload may run and why: hint, eligible clusters, constraints, actual placement",
		Long:  "-o json|yaml prints a kubexr.io/v1alpha1 Explanation (docs/output.md) with the same content.",
		Example: `  kubectl xr explain deploy/stream -n xr-demo
  kubectl xr explain pod/stream-6d9c7-x2x8z -n xr-demo
  kubectl xr explain cronjob/nightly -n xr-demo -o json | jq '.clusters[] | select(.eligible)'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Output != "" && o.Output != "json" && o.Output != "yaml" {
				return fmt.Errorf("unknown output format %q: use json or yaml (or nothing, for text)", o.Output)
			}
			k, err := newKube(f)
			if err != nil {
				return err
			}
			o.kube = k
			return o.Run(cmd.Context(), args)
		},
		ValidArgsFunction: completeTypeName(f, explainKinds),
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "json or yaml: print an Explanation")
	return cmd
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
	e := &outputv1.Explanation{Target: outputv1.ExplainedObject{Kind: kind, Namespace: ns, Name: u.GetName()}, NamespaceEnabled: st.enabled}
	if err := o.explain(ctx, e, u, &pod, srcs, st); err != nil {
		return err
	}
	if o.Output != "" {
		e.SetGroupVersionKind(outputv1.GroupVersion.WithKind("Explanation"))
		return printObject(o.Out, o.Output, e)
	}
	return printExplanation(o.Out, e)
}

// explain fills e: the hint, each cluster's verdict, the constraints, the pods.
func (o *ExplainOptions) explain(ctx context.Context, e *outputv1.Explanation, u *unstructured.Unstructured, pod *corev1.Pod,
	srcs xrkube.PodSources, st *explainState) error {
	ev, err := policy.Evaluate(policy.Input{Sources: srcs.Hints, Classes: st.classes, Inventory: st.inventory,
		Offloading: st.selection, Now: o.now()})
	if err != nil {
		e.HintError = err.Error()
		return nil
	}
	if !ev.Hint.Present() {
		return nil
	}
	e.Hint = explainedHint(ev.Hint, ev.Decision)
	explainClusters(e, ev)
	e.Constraints = explainedConstraints(e.Target.Kind, pod, ev.Decision)
	pods := []corev1.Pod{*pod}
	if e.Target.Kind != "Pod" {
		if pods, err = o.workloadPods(ctx, u); err != nil {
			return err
		}
	}
	e.Pods = o.explainedPods(pods, st, ev)
	return nil
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

func explainedHint(h policy.Hint, d policy.Decision) *outputv1.ExplainedHint {
	out := &outputv1.ExplainedHint{Class: h.Class, BoundSource: h.BoundSource.String(), Placement: string(h.Placement),
		PlacementSource: h.PlacementSource.String(), Bound: boundText(d.Bound), Note: h.Note(),
		Move: string(h.Move), MoveSource: h.MoveSource.String(), MoveAfter: h.MoveAfter.String(), MoveAfterSource: h.MoveAfterSource.String()}
	if h.Class != "" {
		out.ClassMaxRTT = boundText(h.ClassMaxRTT)
	}
	if h.MaxRTT > 0 {
		out.MaxRTT = policy.FormatRTT(h.MaxRTT)
	}
	return out
}

func boundText(d time.Duration) string {
	if d == 0 {
		return "unbounded"
	}
	return policy.FormatRTT(d)
}

// explainClusters records each cluster's verdict as policy.Evaluate gives it.
func explainClusters(e *outputv1.Explanation, ev policy.Evaluation) {
	e.LocalEligible = ev.Decision.Local
	for _, v := range ev.Verdicts() {
		cv := outputv1.ClusterVerdict{Cluster: v.ID, Eligible: v.Eligible}
		if v.HasRTT {
			cv.RTT = policy.FormatRTT(v.RTT)
		}
		if !v.Eligible {
			cv.Reason = v.Reason
		}
		e.Clusters = append(e.Clusters, cv)
	}
	e.Reason = ev.Decision.Reason
}

func explainedConstraints(kind string, pod *corev1.Pod, d policy.Decision) *outputv1.ExplainedConstraints {
	out := &outputv1.ExplainedConstraints{State: outputv1.ConstraintsWouldInject}
	spec := pod.Spec.DeepCopy()
	if kind == "Pod" {
		out.State = outputv1.ConstraintsInjected
		if pod.Annotations[policy.AnnotationDecision] == "" {
			out.State = outputv1.ConstraintsNotInjected
			d.Apply(spec)
		}
	} else {
		d.Apply(spec)
	}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			var reqs []string
			for _, r := range t.MatchExpressions {
				if r.Key == policy.InjectedKey {
					continue // the marker, not a constraint
				}
				reqs = append(reqs, fmt.Sprintf("%s %s [%s]", r.Key, r.Operator, strings.Join(r.Values, ", ")))
			}
			out.RequiredTerms = append(out.RequiredTerms, strings.Join(reqs, " AND "))
		}
	}
	for _, t := range spec.Tolerations {
		if t.Key == policy.LiqoTolerationKey {
			out.Toleration = fmt.Sprintf("%s %s %s", t.Key, t.Operator, t.Effect)
			break
		}
	}
	return out
}

func (o *ExplainOptions) explainedPods(pods []corev1.Pod, st *explainState, ev policy.Evaluation) []outputv1.ExplainedPod {
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	out := make([]outputv1.ExplainedPod, 0, len(pods))
	for i := range pods {
		p := &pods[i]
		ep := outputv1.ExplainedPod{Name: p.Name, Phase: string(p.Status.Phase), Node: p.Spec.NodeName}
		if p.Spec.NodeName == "" {
			ep.Verdict = strandedText(p, ev)
			out = append(out, ep)
			continue
		}
		ep.Cluster, ep.RTT = "local", "0"
		cluster, remote := st.nodeCluster[p.Spec.NodeName]
		if remote {
			ep.Cluster, ep.RTT = cluster, "unknown"
		}
		ready, known := st.nodeReady[p.Spec.NodeName]
		a := ev.Assess(cluster, ready || !known)
		if a.HasRTT {
			ep.RTT = policy.FormatRTT(a.RTT)
		}
		bound := ev.Decision.Bound
		ep.WithinBound = a.Within && (!a.HasRTT || bound == 0 || a.RTT <= bound)
		ep.Verdict = o.podVerdict(p, cluster, ev, a)
		out = append(out, ep)
	}
	return out
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
		return "admitted while no cluster qualified; waits until one does"
	}
	if why := policy.NotRecreated(metav1.GetControllerOfNoCopy(p)); why != "" {
		return "admitted while no cluster qualified; one does now, but " + why + ": delete and recreate it"
	}
	return "admitted while no cluster qualified; one does now, so xr-webhook replaces it"
}
