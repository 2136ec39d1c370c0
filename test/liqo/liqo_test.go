// Package liqo_test runs Liqo v1.2.0's real control plane in three local clusters and
// proves the test bed: peering through liqoctl, virtual nodes from Liqo's virtual
// kubelet, namespace offloading, pod reflection, xr-webhook's mover moving a pod between
// providers, and unpeering.
package liqo_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
)

const waitFor = 3 * time.Minute

func TestLiqoPeeringOffloadingAndReflection(t *testing.T) {
	ctx := context.Background()
	sb := sandbox.NewForTest(t)

	// A consumer and two providers, each with Liqo; providers run kwok with one node.
	start := time.Now()
	clusters, err := sb.StartClusters(ctx,
		sandbox.ClusterOptions{Name: "consumer", Liqo: true, Controllers: []string{"deployment", "replicaset"}},
		sandbox.ClusterOptions{Name: "edge-athens", Liqo: true, Kwok: true},
		sandbox.ClusterOptions{Name: "cloud-geneva", Liqo: true, Kwok: true})
	if err != nil {
		t.Fatal(err)
	}
	consumer, athens, geneva := clusters[0], clusters[1], clusters[2]
	t.Logf("three clusters with Liqo started in %s", time.Since(start).Round(time.Millisecond))
	for _, p := range []*sandbox.Cluster{athens, geneva} {
		if _, err := p.AddNode(ctx, p.Name+"-node", nil); err != nil {
			t.Fatal(err)
		}
	}

	// Peering through Liqo's own liqoctl; Liqo's virtual kubelets register the nodes.
	for _, p := range []*sandbox.Cluster{athens, geneva} {
		start = time.Now()
		if err := consumer.Peer(ctx, p); err != nil {
			t.Fatalf("peer %s: %v", p.Name, err)
		}
		t.Logf("peered %s and its virtual node Ready in %s", p.Name, time.Since(start).Round(time.Millisecond))
	}
	for _, name := range []string{athens.Name, geneva.Name} {
		node := &corev1.Node{}
		if err := consumer.Client.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
			t.Fatal(err)
		}
		if node.Labels["liqo.io/type"] != "virtual-node" || node.Labels["liqo.io/remote-cluster-id"] != name {
			t.Errorf("virtual node %s labels = %v, want Liqo's virtual-node labels", name, node.Labels)
		}
	}
	if vks := consumer.VirtualKubelets(); len(vks) != 2 {
		t.Errorf("virtual kubelets running: %v, want 2", vks)
	}

	// A label written on the virtual node by someone else (xr-webhook's observer writes
	// kubexr.io/latency-class) survives Liqo's virtual kubelet re-applying its own labels.
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: athens.Name}}
	if err := consumer.Client.Patch(ctx, node, client.RawPatch(types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"kubexr.io/latency-class":"ultra-low"}}}`))); err != nil {
		t.Fatal(err)
	}
	vn := &offloadingv1beta1.VirtualNode{ObjectMeta: metav1.ObjectMeta{Name: athens.Name, Namespace: sandbox.TenantNamespace(athens.Name)}}
	if err := consumer.Client.Patch(ctx, vn, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"labels":{"test.kubexr.io/reapplied":"yes"}}}`))); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the virtual kubelet to apply the VirtualNode's new label", func() (bool, string) {
		if err := consumer.Client.Get(ctx, client.ObjectKey{Name: athens.Name}, node); err != nil {
			return false, err.Error()
		}
		return node.Labels["test.kubexr.io/reapplied"] == "yes", fmt.Sprint(node.Labels)
	})
	if got := node.Labels["kubexr.io/latency-class"]; got != "ultra-low" {
		t.Errorf("after the virtual kubelet re-applied its labels, kubexr.io/latency-class = %q, want it kept", got)
	}

	// Offloading with Liqo's own liqoctl.
	if err := consumer.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "xr"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := consumer.Liqoctl(ctx, "offload", "namespace", "xr", "--namespace-mapping-strategy", "EnforceSameName",
		"--pod-offloading-strategy", "Remote", "--timeout", "2m"); err != nil {
		t.Fatal(err)
	}

	// Two replicas, one per virtual node (anti-affinity), Remote: only virtual nodes.
	labels := map[string]string{"app": "stream"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "stream", Namespace: "xr"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "stream", Image: "xr/stream"}},
					Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
							TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
						}},
					}},
				},
			},
		},
	}
	start = time.Now()
	if err := consumer.Client.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	var pods corev1.PodList
	eventually(t, "both pods Running on the two virtual nodes with status reflected", func() (bool, string) {
		if err := consumer.Client.List(ctx, &pods, client.InNamespace("xr"), client.MatchingLabels(labels)); err != nil {
			return false, err.Error()
		}
		var nodes, states []string
		for _, p := range pods.Items {
			states = append(states, p.Name+"="+string(p.Status.Phase)+"@"+p.Spec.NodeName+" ip="+p.Status.PodIP)
			if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				nodes = append(nodes, p.Spec.NodeName)
			}
		}
		slices.Sort(nodes)
		return slices.Equal(nodes, []string{geneva.Name, athens.Name}), strings.Join(states, ", ")
	})
	t.Logf("deployment to two Running reflected pods in %s", time.Since(start).Round(time.Millisecond))
	for _, p := range []*sandbox.Cluster{athens, geneva} {
		remote := runningPods(t, p, "xr")
		if len(remote) != 1 || remote[0].Spec.NodeName != p.Name+"-node" {
			t.Errorf("%s runs %d pods in xr (%v), want 1 on %s-node", p.Name, len(remote), podNodes(remote), p.Name)
		}
	}

	// Deleting the Deployment removes the pods on both sides.
	if err := consumer.Client.Delete(ctx, dep, client.PropagationPolicy(metav1.DeletePropagationForeground)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*sandbox.Cluster{consumer, athens, geneva} {
		eventually(t, "no pods left in xr on "+c.Name, func() (bool, string) {
			var left corev1.PodList
			if err := c.Client.List(ctx, &left, client.InNamespace("xr")); err != nil {
				return false, err.Error()
			}
			return len(left.Items) == 0, strings.Join(podNodes(left.Items), ", ")
		})
	}

	moveBetweenProviders(t, sb, consumer, athens, geneva)

	// Unpeering one provider stops its virtual kubelet and removes its node.
	if _, err := consumer.Liqoctl(ctx, "unoffload", "namespace", "xr", "--skip-confirm"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := consumer.Unpeer(ctx, geneva); err != nil {
		t.Fatal(err)
	}
	t.Logf("unpeered %s in %s", geneva.Name, time.Since(start).Round(time.Millisecond))
	eventually(t, "only edge-athens's virtual kubelet running", func() (bool, string) {
		vks := consumer.VirtualKubelets()
		return len(vks) == 1 && strings.HasSuffix(vks[0], "/vk-"+athens.Name), strings.Join(vks, ", ")
	})

	// Teardown leaves no process behind.
	dir := sb.Dir
	sb.Stop()
	if left := sandbox.ProcessesMentioning(dir); len(left) > 0 {
		t.Errorf("processes still running after Stop: %v", left)
	}
}

func runningPods(t *testing.T, c *sandbox.Cluster, ns string) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := c.Client.List(context.Background(), &pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	return out
}

func podNodes(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name+"@"+p.Spec.NodeName+"("+string(p.Status.Phase)+")")
	}
	return out
}

func eventually(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	sandbox.Eventually(t, what, waitFor, check)
}

// moveBetweenProviders: xr-webhook (in-process, as its ServiceAccount) places a hinted
// pod on athens through Liqo's real virtual kubelet; when athens leaves the pod's bound
// the mover evicts it, the remote twin on athens disappears, and the replacement runs on
// geneva with its status reflected back. The RTTs are the stand-in Connections (Liqo's
// networking is disabled in this test bed; test/gateways measures for real).
func moveBetweenProviders(t *testing.T, sb *sandbox.Sandbox, consumer, athens, geneva *sandbox.Cluster) {
	ctx := context.Background()
	ctrllog.SetLogger(logr.Discard()) // the in-process xr-webhook's logs are not this test's output
	run, err := xrwebhook.Start(ctx, sb, consumer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, cfg := range []client.Object{&admissionregistrationv1.MutatingWebhookConfiguration{}, &admissionregistrationv1.ValidatingWebhookConfiguration{}} {
			cfg.SetName("xr-webhook")
			_ = consumer.Client.Delete(ctx, cfg)
		}
		run.Stop()
	}()
	at := time.Now()
	sample := func(c *sandbox.Cluster, rtt time.Duration) {
		at = at.Add(time.Second) // Liqo's timestamps advance; the observer counts each once
		if err := consumer.StandInConnection(ctx, c.Name, networkingv1beta1.Connected, rtt, at); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	class := func(c *sandbox.Cluster) string {
		n := &corev1.Node{}
		_ = consumer.Client.Get(ctx, client.ObjectKey{Name: c.Name}, n)
		return n.Labels[policy.LabelLatencyClass]
	}
	sample(athens, 5*time.Millisecond)
	sample(geneva, 40*time.Millisecond)
	eventually(t, "classes from the Connections", func() (bool, string) {
		return class(athens) == "ultra-low" && class(geneva) == "interactive", class(athens) + " " + class(geneva)
	})
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "xr"}}
	if err := consumer.Client.Patch(ctx, ns, client.RawPatch(types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"kubexr.io/enabled":"true"},"annotations":{"kubexr.io/move":"auto"}}}`))); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "render"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "render", Namespace: "xr", Annotations: map[string]string{
			policy.AnnotationLatencyClass: "low", policy.AnnotationMoveAfter: "2s"}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "render", Image: "xr/render"}}}}},
	}
	if err := consumer.Client.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	runsOn := func(provider *sandbox.Cluster) func() (bool, string) {
		return func() (bool, string) {
			var pods corev1.PodList
			if err := consumer.Client.List(ctx, &pods, client.InNamespace("xr"), client.MatchingLabels(labels)); err != nil {
				return false, err.Error()
			}
			remote := runningPods(t, provider, "xr")
			ok := len(pods.Items) == 1 && pods.Items[0].Spec.NodeName == provider.Name &&
				pods.Items[0].Status.Phase == corev1.PodRunning && pods.Items[0].Status.PodIP != "" && len(remote) == 1
			return ok, "consumer: " + strings.Join(podNodes(pods.Items), ", ") + "; " + provider.Name + ": " + strings.Join(podNodes(remote), ", ")
		}
	}
	eventually(t, "the render pod running on edge-athens, reflected", runsOn(athens))

	for i := 0; class(geneva) != "low"; i++ {
		if i == 20 {
			t.Fatalf("cloud-geneva not low after 20 samples of 15ms: %s", class(geneva))
		}
		sample(geneva, 15*time.Millisecond)
	}
	for range 3 {
		sample(athens, 40*time.Millisecond) // smoothed 5 → 15.5 → 22.85 → 28ms
	}
	degraded := time.Now()
	eventually(t, "the render pod moved to cloud-geneva, reflected", runsOn(geneva))
	eventually(t, "no twin left on edge-athens", func() (bool, string) {
		var left corev1.PodList
		if err := athens.Client.List(ctx, &left, client.InNamespace("xr")); err != nil {
			return false, err.Error()
		}
		return len(left.Items) == 0, strings.Join(podNodes(left.Items), ", ")
	})
	t.Logf("moved from edge-athens to cloud-geneva through Liqo in %s after the degradation (move delay 2s)",
		time.Since(degraded).Round(100*time.Millisecond))
	if err := consumer.Client.Delete(ctx, dep, client.PropagationPolicy(metav1.DeletePropagationForeground)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "render pods gone on cloud-geneva", func() (bool, string) {
		left := runningPods(t, geneva, "xr")
		return len(left) == 0, strings.Join(podNodes(left), ", ")
	})
}
