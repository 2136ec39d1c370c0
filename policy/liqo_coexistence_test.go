package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	liqopod "github.com/liqotech/liqo/pkg/webhooks/pod"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// liqoMutate runs Liqo v1.2.0's own pod webhook handler on pod and applies its patch. The
// fake client only serves the handler the NamespaceOffloading it reads; the mutation
// itself is Liqo's unmodified code.
func liqoMutate(t *testing.T, nsoff *offloadingv1beta1.NamespaceOffloading, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := offloadingv1beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	cl := fake.NewClientBuilder().WithScheme(scheme).WithObjects(nsoff.DeepCopy()).Build()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	resp := liqopod.New(cl, "liqo").Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "1", Namespace: nsoff.Namespace, Operation: admissionv1.Create,
		Object: runtime.RawExtension{Raw: raw},
	}})
	if !resp.Allowed {
		t.Fatalf("Liqo's webhook refused the pod: %v", resp.Result)
	}
	ops, err := json.Marshal(resp.Patches)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch(ops)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := patch.Apply(raw)
	if err != nil {
		t.Fatalf("apply Liqo's patch: %v", err)
	}
	out := &corev1.Pod{}
	if err := json.Unmarshal(patched, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// testNodes are two local nodes and one virtual node per cluster, labelled and tainted
// as Liqo does.
func testNodes(clusters ...string) []*corev1.Node {
	nodes := []*corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "local-1", Labels: map[string]string{"zone": "eu"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "local-2", Labels: map[string]string{"zone": "us"}}},
	}
	for _, id := range clusters {
		nodes = append(nodes, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: id, Labels: map[string]string{
				LiqoTypeLabel: LiqoTypeVirtualNode, LiqoRemoteClusterIDLabel: id, "zone": "eu", "region": strings.SplitN(id, "-", 2)[0]}},
			Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: LiqoTolerationKey, Value: "true", Effect: corev1.TaintEffectNoExecute}}},
		})
	}
	return nodes
}

// admits reports whether the scheduler could place pod on node: required node affinity
// and taints (the two constraints in play here).
func admits(pod *corev1.Pod, node *corev1.Node) bool {
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		if ok, _ := corev1helpers.MatchNodeSelectorTerms(node, a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution); !ok {
			return false
		}
	}
	_, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, pod.Spec.Tolerations, nil, false)
	return !untolerated
}

func allowedBy(d Decision, node *corev1.Node) bool {
	id, virtual := node.Labels[LiqoRemoteClusterIDLabel]
	if !virtual {
		return d.Local
	}
	for _, c := range d.Remote {
		if c.ID == id {
			return true
		}
	}
	return false
}

func TestCoexistenceWithLiqosPodWebhook(t *testing.T) {
	clusters := []string{"edge-athens", "edge-frankfurt", "cloud-geneva"}
	nodes := testNodes(clusters...)
	selectorAthensFrankfurt := corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchExpressions: []corev1.NodeSelectorRequirement{req("region", corev1.NodeSelectorOpIn, "edge")}}}}
	offloadings := map[string]offloadingv1beta1.NamespaceOffloadingSpec{
		"LocalAndRemote, no selector":   {PodOffloadingStrategy: offloadingv1beta1.LocalAndRemotePodOffloadingStrategyType},
		"LocalAndRemote, edge selector": {PodOffloadingStrategy: offloadingv1beta1.LocalAndRemotePodOffloadingStrategyType, ClusterSelector: selectorAthensFrankfurt},
		"Remote, no selector":           {PodOffloadingStrategy: offloadingv1beta1.RemotePodOffloadingStrategyType},
		"Remote, edge selector":         {PodOffloadingStrategy: offloadingv1beta1.RemotePodOffloadingStrategyType, ClusterSelector: selectorAthensFrankfurt},
	}
	decisions := map[string]Decision{
		"local and athens": {Local: true, Remote: []Candidate{{ID: "edge-athens"}}},
		"frankfurt only":   {Remote: []Candidate{{ID: "edge-frankfurt"}}},
		"local only":       {Local: true},
		"nothing":          {},
	}
	userAffinities := map[string]*corev1.Affinity{
		"no user affinity": nil,
		"user zone=eu": {NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "eu")}}}}}},
	}
	orders := map[string]func(*testing.T, *offloadingv1beta1.NamespaceOffloading, Decision, *corev1.Pod) *corev1.Pod{
		"ours then Liqo's": func(t *testing.T, nsoff *offloadingv1beta1.NamespaceOffloading, d Decision, p *corev1.Pod) *corev1.Pod {
			d.Apply(&p.Spec)
			return liqoMutate(t, nsoff, p)
		},
		"Liqo's then ours": func(t *testing.T, nsoff *offloadingv1beta1.NamespaceOffloading, d Decision, p *corev1.Pod) *corev1.Pod {
			p = liqoMutate(t, nsoff, p)
			d.Apply(&p.Spec)
			return p
		},
		"ours, Liqo's, ours again (reinvocation)": func(t *testing.T, nsoff *offloadingv1beta1.NamespaceOffloading, d Decision, p *corev1.Pod) *corev1.Pod {
			d.Apply(&p.Spec)
			p = liqoMutate(t, nsoff, p)
			d.Apply(&p.Spec)
			return p
		},
	}
	for on, spec := range offloadings {
		for dn, d := range decisions {
			for an, aff := range userAffinities {
				for orn, mutate := range orders {
					t.Run(fmt.Sprintf("%s/%s/%s/%s", on, dn, an, orn), func(t *testing.T) {
						nsoff := &offloadingv1beta1.NamespaceOffloading{
							ObjectMeta: metav1.ObjectMeta{Name: "offloading", Namespace: "xr"}, Spec: *spec.DeepCopy()}
						pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "xr"},
							Spec: corev1.PodSpec{Affinity: aff.DeepCopy(), Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
						out := mutate(t, nsoff, d, pod)
						for _, n := range nodes {
							if admits(out, n) && !allowedBy(d, n) {
								t.Errorf("pod admitted on %s, which the decision does not allow", n.Name)
							}
							if admits(out, n) && aff != nil && !admits(&corev1.Pod{Spec: corev1.PodSpec{Affinity: aff, Tolerations: out.Spec.Tolerations}}, n) {
								t.Errorf("pod admitted on %s, which the user's own affinity excludes", n.Name)
							}
						}
					})
				}
			}
		}
	}
}
