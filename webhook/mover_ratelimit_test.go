package webhook_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
	"github.com/kubexr/kubectl-xr/webhook"
)

// 30 pods of 30 workloads degraded at once: the global limit (10 moves a minute, the
// default) holds, and each pod held back is told why once. Its own cluster and
// xr-webhook, so no other test's moves share the window.
func TestMoverRateLimitHoldsWith30PodsDegradedAtOnce(t *testing.T) {
	ctx := context.Background()
	c, err := env.sb.StartCluster(ctx, sandbox.ClusterOptions{Name: "ratelimit", Scheduler: true, Kwok: true,
		Controllers: []string{"deployment", "replicaset"}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := xrwebhook.StartWith(ctx, env.sb, c, nil, webhook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Stop)
	connect := func(id string, rtt time.Duration, n int) {
		for range n {
			if err := c.StandInConnection(ctx, id, networkingv1beta1.Connected, rtt, stamp()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, id := range []string{"r-a", "r-b"} {
		if _, err := c.StandInVirtualNode(ctx, id, "vk-"+id); err != nil {
			t.Fatal(err)
		}
	}
	connect("r-a", 5*time.Millisecond, 1)
	connect("r-b", 40*time.Millisecond, 1)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rl", Labels: map[string]string{policy.LabelEnabled: "true"},
		Annotations: map[string]string{policy.AnnotationMove: "auto"}}}
	if err := c.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.Create(ctx, offloadingTo("rl", "r-a", "r-b")); err != nil {
		t.Fatal(err)
	}
	// The class labels show the observer's view before anything is placed.
	waitLabel := func(node, class string) {
		sandbox.Eventually(t, node+" labelled "+class, waitFor, func() (bool, string) {
			n := &corev1.Node{}
			if err := c.Client.Get(ctx, client.ObjectKey{Name: node}, n); err != nil {
				return false, err.Error()
			}
			return n.Labels[policy.LabelLatencyClass] == class, n.Labels[policy.LabelLatencyClass]
		})
	}
	waitLabel("vk-r-a", "ultra-low")
	waitLabel("vk-r-b", "interactive")
	time.Sleep(200 * time.Millisecond) // the NamespaceOffloading reaches the webhook's cache
	for i := range 30 {
		if err := c.Client.Create(ctx, deployment("rl", fmt.Sprintf("app-%02d", i), 1, movable(), nil)); err != nil {
			t.Fatal(err)
		}
	}
	sandbox.Eventually(t, "30 pods running on vk-r-a", time.Minute, func() (bool, string) {
		var pods corev1.PodList
		if err := c.Client.List(ctx, &pods, client.InNamespace("rl")); err != nil {
			return false, err.Error()
		}
		n := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName == "vk-r-a" && p.Status.Phase == corev1.PodRunning {
				n++
			}
		}
		return n == 30, fmt.Sprintf("%d of %d", n, len(pods.Items))
	})
	label := func(node string) func() string {
		return func() string {
			n := &corev1.Node{}
			_ = c.Client.Get(ctx, client.ObjectKey{Name: node}, n)
			return n.Labels[policy.LabelLatencyClass]
		}
	}
	settle(t, func(d time.Duration) { connect("r-b", d, 1) }, label("vk-r-b"), 15*time.Millisecond, "low")
	connect("r-a", 40*time.Millisecond, 3)
	waitLabel("vk-r-a", "interactive")
	degraded := time.Now()

	moved := func() float64 {
		return testutil.ToFloat64(run.Metrics.Moves.WithLabelValues(string(policy.MoveReasonOverBound)))
	}
	sandbox.Eventually(t, "10 moves", 30*time.Second, func() (bool, string) { return moved() == 10, fmt.Sprint(moved()) })
	// The rest of the minute: no 11th move, and every held-back pod told once why.
	time.Sleep(time.Until(degraded.Add(40 * time.Second)))
	if got := moved(); got != 10 {
		t.Errorf("%v moves within %s of the degradation, want 10 (the limit per minute)", got, time.Since(degraded).Round(time.Second))
	}
	if got := testutil.ToFloat64(run.Metrics.MovesBlocked.WithLabelValues("rate-limit")); got != 20 {
		t.Errorf("kubexr_moves_blocked_total{reason=rate-limit} = %v, want 20 (one per held-back pod)", got)
	}
	var evs corev1.EventList
	if err := c.Client.List(ctx, &evs, client.InNamespace("rl")); err != nil {
		t.Fatal(err)
	}
	limited := map[string]bool{}
	for _, e := range evs.Items {
		if e.Reason == webhook.ReasonMoveBlocked && e.InvolvedObject.Kind == "Pod" &&
			strings.Contains(e.Message, "xr-webhook moves at most 10 pods a minute") {
			limited[e.InvolvedObject.Name] = true
		}
	}
	if len(limited) != 20 {
		t.Errorf("%d pods have a rate-limit XRMoveBlocked event, want 20", len(limited))
	}
}
