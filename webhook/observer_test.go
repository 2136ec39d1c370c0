package webhook_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/webhook"
)

// feedUntilClass writes samples of rtt (Liqo timestamps one second apart), each time
// waiting until the observer has taken it (the node's RTT annotation moves), until the
// node is labelled class; it returns how many samples that took.
func feedUntilClass(t *testing.T, id, node string, rtt time.Duration, class string) int {
	t.Helper()
	n := &corev1.Node{}
	get := func() {
		if err := env.c.Client.Get(context.Background(), client.ObjectKey{Name: node}, n); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 20; i++ {
		get()
		before := n.Annotations[policy.AnnotationRTT]
		setLatency(t, id, networkingv1beta1.Connected, rtt)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			get()
			if n.Annotations[policy.AnnotationRTT] != before {
				break
			}
		}
		if n.Labels[policy.LabelLatencyClass] == class {
			return i
		}
	}
	t.Fatalf("node %s never labelled %s at %s (label %q, rtt %q)", node, class, rtt,
		n.Labels[policy.LabelLatencyClass], n.Annotations[policy.AnnotationRTT])
	return 0
}

func admitLowPod(t *testing.T, ns, name string, extra map[string]string) corev1.Pod {
	t.Helper()
	ann := map[string]string{policy.AnnotationLatencyClass: "low"}
	for k, v := range extra {
		ann[k] = v
	}
	create(t, barePod(ns, name, ann))
	return getPod(t, ns, name)
}

func TestObserverRelabelsAndPlacementFollowsLatency(t *testing.T) {
	node := peer(t, "t2-edge", 5*time.Millisecond)
	waitClass(t, node, "ultra-low")
	xrNamespace(t, "t2", nil, "t2-edge")

	// The link degrades: the smoothed RTT crosses 20ms after a few samples of 40ms.
	samples := feedUntilClass(t, "t2-edge", node, 40*time.Millisecond, "interactive")
	t.Logf("5ms -> 40ms: relabelled interactive after %d samples", samples)
	// EWMA α=0.3 from 5ms: 15.5ms, then 22.85ms > 20ms.
	if samples != 2 {
		t.Errorf("relabelled after %d sample(s) of 40ms, want 2 (EWMA 15.5ms, 22.85ms)", samples)
	}
	pod := admitLowPod(t, "t2", "after-rise", nil)
	if got := placement(t, &pod, node); !cmp.Equal(got, []string{"local"}) {
		t.Errorf("low pod after the rise may run on %v, want only local", got)
	}
	if r := record(t, &pod); !strings.Contains(r.Reason, "nearest: t2-edge at") {
		t.Errorf("decision reason %q should name the nearest cluster and its RTT", r.Reason)
	}
	// With placement remote nothing qualifies: Warning event naming bound and nearest RTT.
	admitLowPod(t, "t2", "remote-only", map[string]string{policy.AnnotationPlacement: "remote"})
	waitEvent(t, "t2", "remote-only", webhook.ReasonNoEligibleCluster, "bound 20ms")
	waitEvent(t, "t2", "remote-only", webhook.ReasonNoEligibleCluster, "nearest: t2-edge at")

	// The link recovers; hysteresis holds it out of "low" until 10% under the bound.
	samples = feedUntilClass(t, "t2-edge", node, 5*time.Millisecond, "ultra-low")
	t.Logf("40ms -> 5ms: relabelled ultra-low after %d samples", samples)
	// EWMA from 22.85ms: 17.5, 13.7, 11.1, 9.28 — under 10ms but not 10% under it, so
	// held in "low" — then 8.0ms. Without hysteresis it would take 4.
	if samples != 5 {
		t.Errorf("relabelled ultra-low after %d samples of 5ms, want 5 (hysteresis)", samples)
	}
	pod = admitLowPod(t, "t2", "after-recovery", nil)
	if got := placement(t, &pod, node); !cmp.Equal(got, []string{"local", node}) {
		t.Errorf("low pod after recovery may run on %v, want local and %s", got, node)
	}
}

func TestUnhealthyClustersNeverReceiveBoundedPods(t *testing.T) {
	connecting, na, stale := peer(t, "t3-connecting", 5*time.Millisecond), peer(t, "t3-na", 5*time.Millisecond),
		"vk-t3-stale"
	if _, err := env.c.StandInVirtualNode(context.Background(), "t3-stale", stale); err != nil {
		t.Fatal(err)
	}
	// Liqo's gateway last wrote two minutes ago: older than StaleAfter (60s).
	if err := env.c.StandInConnection(context.Background(), "t3-stale", networkingv1beta1.Connected,
		5*time.Millisecond, time.Now().Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	lost := peer(t, "t3-lost", 5*time.Millisecond)
	waitClass(t, connecting, "ultra-low")
	waitClass(t, na, "ultra-low")
	waitClass(t, lost, "ultra-low")
	setLatency(t, "t3-connecting", networkingv1beta1.Connecting, 5*time.Millisecond)
	setLatency(t, "t3-na", networkingv1beta1.Connected, 0) // Liqo writes "N/A"
	// Liqo's lost link: Error, N/A and no timestamp. Seen as Error at once — within
	// waitClass's 30 s, before the last sample could go stale (60 s).
	setLatency(t, "t3-lost", networkingv1beta1.ConnectionError, 0)
	for _, n := range []string{connecting, na, stale, lost} {
		waitClass(t, n, "best-effort")
	}
	xrNamespace(t, "t3", nil, "t3-connecting", "t3-na", "t3-stale")
	pod := admitLowPod(t, "t3", "bounded", nil)
	if got := placement(t, &pod, connecting, na, stale); !cmp.Equal(got, []string{"local"}) {
		t.Errorf("low pod may run on %v, want only local", got)
	}
	// An unbounded pod may still go to a cluster without latency data.
	create(t, barePod("t3", "unbounded", map[string]string{policy.AnnotationLatencyClass: "best-effort"}))
	unbounded := getPod(t, "t3", "unbounded")
	if got := placement(t, &unbounded, connecting, na, stale); !cmp.Equal(got, []string{"local", connecting, na, stale}) {
		t.Errorf("best-effort pod may run on %v, want local and all three", got)
	}
	// A fresh sample makes the stale cluster eligible again.
	setLatency(t, "t3-stale", networkingv1beta1.Connected, 5*time.Millisecond)
	waitClass(t, stale, "ultra-low")
	pod = admitLowPod(t, "t3", "after-fresh", nil)
	if got := placement(t, &pod, connecting, na, stale); !cmp.Equal(got, []string{"local", stale}) {
		t.Errorf("low pod after a fresh sample may run on %v, want local and %s", got, stale)
	}
}
