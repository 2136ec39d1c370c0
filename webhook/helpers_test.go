package webhook_test

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/sandbox"
)

const waitFor = 30 * time.Second

// stamp is a Connection timestamp that always advances by one second: Liqo writes
// second-resolution timestamps and the observer counts a sample only when it advances.
var stampSeconds atomic.Int64

func stamp() time.Time {
	return time.Now().Add(time.Duration(stampSeconds.Add(1)) * time.Second).Truncate(time.Second)
}

// peer makes a stand-in peered cluster: the virtual node Liqo's virtual kubelet would
// register and the Connection Liqo's gateway would write (STAND-IN, see test/sandbox).
func peer(t *testing.T, id string, rtt time.Duration) string {
	t.Helper()
	ctx := context.Background()
	node := "vk-" + id
	if _, err := env.c.StandInVirtualNode(ctx, id, node); err != nil {
		t.Fatal(err)
	}
	setLatency(t, id, networkingv1beta1.Connected, rtt)
	return node
}

// setLatency writes one Connection status as Liqo's gateway would (STAND-IN).
func setLatency(t *testing.T, id string, value networkingv1beta1.ConnectionStatusValue, rtt time.Duration) {
	t.Helper()
	if err := env.c.StandInConnection(context.Background(), id, value, rtt, stamp()); err != nil {
		t.Fatal(err)
	}
}

// waitClass waits until the observer labels node with class ("" = no label).
func waitClass(t *testing.T, node, class string) *corev1.Node {
	t.Helper()
	n := &corev1.Node{}
	eventually(t, "node "+node+" labelled "+class, func() (bool, string) {
		if err := env.c.Client.Get(context.Background(), client.ObjectKey{Name: node}, n); err != nil {
			return false, err.Error()
		}
		got := n.Labels[policy.LabelLatencyClass]
		return got == class, "label is " + got + ", rtt " + n.Annotations[policy.AnnotationRTT]
	})
	return n
}

func eventually(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	sandbox.Eventually(t, what, waitFor, check)
}

// xrNamespace creates a namespace opted in to xr-webhook and offloaded with Liqo to the
// given clusters (LocalAndRemote).
func xrNamespace(t *testing.T, name string, annotations map[string]string, clusters ...string) {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels:      map[string]string{policy.LabelEnabled: "true"},
		Annotations: annotations}}
	if err := env.c.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	no := offloadingTo(name, clusters...)
	if err := env.c.Client.Create(ctx, no); err != nil {
		t.Fatal(err)
	}
	// The webhook reads the NamespaceOffloading from its cache: wait until a pod sees it.
	time.Sleep(200 * time.Millisecond)
}

// offloadingTo is a LocalAndRemote NamespaceOffloading of ns to the given clusters.
func offloadingTo(ns string, clusters ...string) *offloadingv1beta1.NamespaceOffloading {
	return &offloadingv1beta1.NamespaceOffloading{
		ObjectMeta: metav1.ObjectMeta{Name: "offloading", Namespace: ns},
		Spec: offloadingv1beta1.NamespaceOffloadingSpec{
			NamespaceMappingStrategy: offloadingv1beta1.DefaultNameMappingStrategyType,
			PodOffloadingStrategy:    offloadingv1beta1.LocalAndRemotePodOffloadingStrategyType,
			ClusterSelector: corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: policy.LiqoRemoteClusterIDLabel, Operator: corev1.NodeSelectorOpIn, Values: clusters,
				}},
			}}},
		},
	}
}

// allowedNodes are the nodes the pod's required node affinity and tolerations admit,
// evaluated with the scheduler's own matching code against the cluster's real nodes.
func allowedNodes(t *testing.T, pod *corev1.Pod) []string {
	t.Helper()
	var nodes corev1.NodeList
	if err := env.c.Client.List(context.Background(), &nodes); err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
			if ok, _ := corev1helpers.MatchNodeSelectorTerms(n, a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution); !ok {
				continue
			}
		}
		if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), n.Spec.Taints, pod.Spec.Tolerations,
			func(t *corev1.Taint) bool {
				return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
			}, false); untolerated {
			continue
		}
		out = append(out, n.Name)
	}
	sort.Strings(out)
	return out
}

// placement is allowedNodes restricted to the given virtual nodes, plus "local" when a
// local node is allowed, so assertions do not depend on other tests' clusters.
func placement(t *testing.T, pod *corev1.Pod, virtualNodes ...string) []string {
	t.Helper()
	var out []string
	local := false
	for _, n := range allowedNodes(t, pod) {
		switch {
		case slices.Contains(virtualNodes, n):
			out = append(out, n)
		case strings.HasPrefix(n, "local-"):
			local = true
		}
	}
	if local {
		out = append(out, "local")
	}
	sort.Strings(out)
	return out
}

func podsOf(t *testing.T, ns string, selector map[string]string, n int) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	eventually(t, "pods in "+ns, func() (bool, string) {
		if err := env.c.Client.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels(selector)); err != nil {
			return false, err.Error()
		}
		return len(pods.Items) >= n, "have " + strconv.Itoa(len(pods.Items))
	})
	return pods.Items
}
