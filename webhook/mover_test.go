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
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/webhook"
)

// movable are the hints of a workload that may move two seconds after its cluster
// leaves the low class's 20ms bound, and runs only on remote clusters (so where it runs
// is decided by the measurements alone).
func movable(extra ...string) map[string]string {
	a := map[string]string{policy.AnnotationLatencyClass: "low", policy.AnnotationPlacement: "remote",
		policy.AnnotationMoveAfter: "2s"}
	for i := 0; i+1 < len(extra); i += 2 {
		a[extra[i]] = extra[i+1]
	}
	return a
}

// degrade writes three 40ms samples: the smoothed RTT goes 5 → 15.5 → 22.85 → 28ms,
// past the 20ms bound and its 10 % move margin.
func degrade(t *testing.T, id, node string) {
	t.Helper()
	for range 3 {
		setLatency(t, id, networkingv1beta1.Connected, 40*time.Millisecond)
		time.Sleep(300 * time.Millisecond)
	}
	waitClass(t, node, "interactive")
}

// settle writes samples of rtt until the observer labels node with class (the smoothing
// and the hysteresis take several samples), at most 20.
func settle(t *testing.T, write func(time.Duration), label func() string, rtt time.Duration, class string) {
	t.Helper()
	for range 20 {
		write(rtt)
		time.Sleep(300 * time.Millisecond)
		if label() == class {
			return
		}
	}
	t.Fatalf("20 samples of %s: label %q, want %q", rtt, label(), class)
}

// improve brings the stand-in cluster id (node) to rtt and waits for class.
func improve(t *testing.T, id, node string, rtt time.Duration, class string) {
	t.Helper()
	settle(t, func(d time.Duration) { setLatency(t, id, networkingv1beta1.Connected, d) }, func() string {
		n := &corev1.Node{}
		_ = env.c.Client.Get(context.Background(), client.ObjectKey{Name: node}, n)
		return n.Labels[policy.LabelLatencyClass]
	}, rtt, class)
}

// nodesOf maps each live (not terminating) pod of the selector to its node.
func nodesOf(t *testing.T, ns string, selector map[string]string) map[string]string {
	t.Helper()
	var pods corev1.PodList
	if err := env.c.Client.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels(selector)); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p.Spec.NodeName
		}
	}
	return out
}

// waitRunningOn waits until exactly n pods of the selector run, all on node.
func waitRunningOn(t *testing.T, ns string, selector map[string]string, n int, node string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d pods of %v running on %s", n, selector, node), func() (bool, string) {
		var pods corev1.PodList
		if err := env.c.Client.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels(selector)); err != nil {
			return false, err.Error()
		}
		var seen []string
		ok := 0
		for _, p := range pods.Items {
			seen = append(seen, p.Name+"@"+p.Spec.NodeName+":"+string(p.Status.Phase))
			if p.DeletionTimestamp == nil && p.Spec.NodeName == node && p.Status.Phase == corev1.PodRunning {
				ok++
			}
		}
		return ok == n && len(pods.Items) == n, strings.Join(seen, " ")
	})
}

// events counts the Events with reason about objects named with prefix in ns.
func events(t *testing.T, ns, reason, prefix string) []corev1.Event {
	t.Helper()
	var evs corev1.EventList
	if err := env.c.Client.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range evs.Items {
		if e.Reason == reason && strings.HasPrefix(e.InvolvedObject.Name, prefix) {
			out = append(out, e)
		}
	}
	return out
}

func moves(reason policy.MoveReason) float64 {
	return testutil.ToFloat64(env.metrics.Moves.WithLabelValues(string(reason)))
}

func blocked(reason string) float64 {
	return testutil.ToFloat64(env.metrics.MovesBlocked.WithLabelValues(reason))
}

func TestMoverMovesPodsOffADegradedClusterOneAtATime(t *testing.T) {
	a, b := peer(t, "m1-a", 5*time.Millisecond), peer(t, "m1-b", 40*time.Millisecond)
	waitClass(t, a, "ultra-low")
	waitClass(t, b, "interactive")
	xrNamespace(t, "m1", map[string]string{policy.AnnotationMove: "auto"}, "m1-a", "m1-b")
	app := map[string]string{"app": "render"}
	create(t, deployment("m1", "render", 3, movable(), nil))
	waitRunningOn(t, "m1", app, 3, a)
	before := moves(policy.MoveReasonOverBound)

	// b becomes the better cluster, then a leaves the bound.
	improve(t, "m1-b", b, 15*time.Millisecond, "low")
	degrade(t, "m1-a", a)
	degraded := time.Now()

	// One at a time: never more than one replacement on its way (not Running yet).
	deadline := time.Now().Add(waitFor)
	for {
		var pods corev1.PodList
		if err := env.c.Client.List(context.Background(), &pods, client.InNamespace("m1"), client.MatchingLabels(app)); err != nil {
			t.Fatal(err)
		}
		pending, onB, live := 0, 0, 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				live++
			}
			switch {
			case p.DeletionTimestamp != nil:
			case p.Status.Phase != corev1.PodRunning:
				pending++
			case p.Spec.NodeName == b:
				onB++
			}
		}
		if pending > 1 {
			t.Fatalf("%d replacements on their way at once, want at most 1 (one move per workload at a time)", pending)
		}
		if onB == 3 && live == 3 { // the evicted pods may still be terminating
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods not moved to %s: %v", b, nodesOf(t, "m1", app))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("time to recover (a degraded → all 3 pods running on b): %s", time.Since(degraded).Round(100*time.Millisecond))
	if got := moves(policy.MoveReasonOverBound) - before; got != 3 {
		t.Errorf("kubexr_moves_total{reason=over-bound} grew by %v, want 3", got)
	}
	// kubectl describe shows the move on each pod and on the Deployment.
	eventually(t, "XRMoving events", func() (bool, string) {
		onPods, onDeployment := 0, 0
		for _, e := range events(t, "m1", webhook.ReasonMoving, "render") {
			switch e.InvolvedObject.Kind {
			case "Pod":
				onPods++
				if !strings.Contains(e.Message, "moving out of m1-a (RTT 28ms is over the bound 20ms), out of bound for") ||
					!strings.Contains(e.Message, "may go to m1-b (") {
					return false, "message: " + e.Message
				}
			case "Deployment":
				onDeployment++
			}
		}
		return onPods == 3 && onDeployment == 3, fmt.Sprintf("%d on pods, %d on the deployment", onPods, onDeployment)
	})
	// The replacements are within their bound: nothing records them out of it.
	for name := range nodesOf(t, "m1", app) {
		if p := getPod(t, "m1", name); p.Annotations[policy.AnnotationOutOfBoundSince] != "" {
			t.Errorf("replacement %s carries %s", name, policy.AnnotationOutOfBoundSince)
		}
	}
}

// What must not move: a PodDisruptionBudget's pods (until it allows), pods opted out,
// bare pods, and pods with nowhere else to go.
func TestMoverRefusals(t *testing.T) {
	ctx := context.Background()
	a, b := peer(t, "m2-a", 5*time.Millisecond), peer(t, "m2-b", 40*time.Millisecond)
	waitClass(t, a, "ultra-low")
	waitClass(t, b, "interactive")
	xrNamespace(t, "m2", map[string]string{policy.AnnotationMove: "auto"}, "m2-a", "m2-b")
	create(t, deployment("m2", "guarded", 2, movable(), nil))
	create(t, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "guarded", Namespace: "m2"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptrIntStr(0),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}}}})
	create(t, deployment("m2", "pinned", 1, movable(policy.AnnotationMove, "never"), nil))
	create(t, deployment("m2", "pose", 1, movable(policy.AnnotationLatencyClass, "ultra-low"), nil))
	create(t, barePod("m2", "bare", movable()))
	for _, app := range []string{"guarded", "pinned", "pose"} {
		waitRunningOn(t, "m2", map[string]string{"app": app}, map[string]int{"guarded": 2}[app]+map[string]int{"pinned": 1, "pose": 1}[app], a)
	}
	eventually(t, "bare pod running", func() (bool, string) {
		p := getPod(t, "m2", "bare")
		return p.Spec.NodeName == a && p.Status.Phase == corev1.PodRunning, p.Spec.NodeName
	})
	pinned := nodesOf(t, "m2", map[string]string{"app": "pinned"})
	before := map[string]float64{"pdb": blocked("pdb"), "no-controller": blocked("no-controller"), "nothing-eligible": blocked("nothing-eligible")}
	movedBefore := moves(policy.MoveReasonOverBound)

	improve(t, "m2-b", b, 15*time.Millisecond, "low")
	degrade(t, "m2-a", a)

	waitEvent(t, "m2", "bare", webhook.ReasonMoveBlocked, "cannot move out of m2-a (RTT 28ms is over the bound 20ms): it has no controller that would recreate it")
	pose := podsOf(t, "m2", map[string]string{"app": "pose"}, 1)[0].Name
	waitEvent(t, "m2", pose, webhook.ReasonMoveBlocked, "no other cluster qualifies for bound 10ms now")
	guarded := podsOf(t, "m2", map[string]string{"app": "guarded"}, 2)
	eventually(t, "a PDB refusal reported", func() (bool, string) {
		for _, p := range guarded {
			for _, e := range events(t, "m2", webhook.ReasonMoveBlocked, p.Name) {
				if strings.Contains(e.Message, "the eviction was refused") && strings.Contains(e.Message, "disruption budget") {
					return true, ""
				}
			}
		}
		return false, "no refusal yet"
	})
	for reason, was := range before {
		got := blocked(reason) - was
		if got < 1 {
			t.Errorf("kubexr_moves_blocked_total{reason=%s} grew by %v, want at least 1", reason, got)
		}
		t.Logf("kubexr_moves_blocked_total{reason=%s} +%v", reason, got)
	}
	// Nothing of these moved; the opted-out pod was not even recorded out of bound.
	if got := moves(policy.MoveReasonOverBound) - movedBefore; got != 0 {
		t.Errorf("%v pods moved, want 0", got)
	}
	for name, node := range nodesOf(t, "m2", map[string]string{"app": "guarded"}) {
		if node != a {
			t.Errorf("guarded pod %s moved to %s despite its PodDisruptionBudget", name, node)
		}
	}
	if got := nodesOf(t, "m2", map[string]string{"app": "pinned"}); fmt.Sprint(got) != fmt.Sprint(pinned) {
		t.Errorf("kubexr.io/move: never pod changed: %v → %v", pinned, got)
	}
	for name := range pinned {
		if p := getPod(t, "m2", name); p.Annotations[policy.AnnotationOutOfBoundSince] != "" || len(events(t, "m2", webhook.ReasonMoveBlocked, name)) > 0 {
			t.Errorf("pinned pod %s was judged for a move: %v", name, p.Annotations)
		}
	}
	// Once the budget allows it, the refused pods move (the backoff retries, never forces).
	pdb := &policyv1.PodDisruptionBudget{}
	if err := env.c.Client.Get(ctx, types.NamespacedName{Namespace: "m2", Name: "guarded"}, pdb); err != nil {
		t.Fatal(err)
	}
	pdb.Spec.MaxUnavailable = ptrIntStr(1)
	if err := env.c.Client.Update(ctx, pdb); err != nil {
		t.Fatal(err)
	}
	allowed := time.Now()
	sandbox.Eventually(t, "guarded pods moved after the budget allowed it", 2*time.Minute, func() (bool, string) {
		got := nodesOf(t, "m2", map[string]string{"app": "guarded"})
		for _, node := range got {
			if node != b {
				return false, fmt.Sprint(got)
			}
		}
		return len(got) == 2, fmt.Sprint(got)
	})
	t.Logf("after the budget allowed it: %v moves in %s", moves(policy.MoveReasonOverBound)-movedBefore,
		time.Since(allowed).Round(100*time.Millisecond))
}

func ptrIntStr(v int) *intstr.IntOrString { x := intstr.FromInt32(int32(v)); return &x }

// A link jittering ±10 % around the bound for 5 minutes of Liqo's status updates (30
// samples) moves nothing: the move margin and the move delay hold it.
func TestMoverJitterAtTheBoundMovesNothing(t *testing.T) {
	a := peer(t, "m3-a", 17*time.Millisecond)
	waitClass(t, a, "low")
	xrNamespace(t, "m3", map[string]string{policy.AnnotationMove: "auto"}, "m3-a", "m3-b")
	app := map[string]string{"app": "stream"}
	create(t, deployment("m3", "stream", 1, movable(), nil))
	waitRunningOn(t, "m3", app, 1, a)
	before := nodesOf(t, "m3", app)
	b := peer(t, "m3-b", 5*time.Millisecond) // an alternative exists throughout
	waitClass(t, b, "ultra-low")
	for i := range 30 {
		rtt := []time.Duration{18, 22, 21, 19, 22, 22, 18, 20, 22, 19}[i%10] * time.Millisecond
		setLatency(t, "m3-a", networkingv1beta1.Connected, rtt)
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // longer than the 2s move delay
	if got := nodesOf(t, "m3", app); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("jitter moved the pod: %v → %v", before, got)
	}
	if n := len(events(t, "m3", webhook.ReasonMoving, "stream")); n != 0 {
		t.Errorf("%d XRMoving events, want 0", n)
	}
}

// A pod admitted while no cluster qualified is replaced as soon as one does.
func TestMoverReplacesAStrandedPod(t *testing.T) {
	a := peer(t, "m4-a", 40*time.Millisecond)
	waitClass(t, a, "interactive")
	xrNamespace(t, "m4", nil, "m4-a")
	app := map[string]string{"app": "pose"}
	create(t, deployment("m4", "pose", 1, map[string]string{policy.AnnotationLatencyClass: "low", policy.AnnotationPlacement: "remote"}, nil))
	stranded := podsOf(t, "m4", app, 1)[0]
	waitEvent(t, "m4", stranded.Name, webhook.ReasonNoEligibleCluster,
		"xr-webhook replaces the pod (its ReplicaSet recreates it) as soon as a cluster qualifies")
	if p := getPod(t, "m4", stranded.Name); p.Spec.NodeName != "" {
		t.Fatalf("stranded pod was scheduled on %s", p.Spec.NodeName)
	}
	before := moves(policy.MoveReasonStranded)
	improve(t, "m4-a", a, 5*time.Millisecond, "low")
	qualified := time.Now()
	// Within two of Liqo's status intervals (10 s each) of the cluster qualifying.
	sandbox.Eventually(t, "the replacement running on "+a, 20*time.Second, func() (bool, string) {
		got := nodesOf(t, "m4", app)
		_, old := got[stranded.Name]
		for name, node := range got {
			if p := getPod(t, "m4", name); node == a && p.Status.Phase == corev1.PodRunning && !old {
				return true, ""
			}
		}
		return false, fmt.Sprint(got)
	})
	t.Logf("stranded pod replaced and running %s after the cluster qualified", time.Since(qualified).Round(100*time.Millisecond))
	if got := moves(policy.MoveReasonStranded) - before; got != 1 {
		t.Errorf("kubexr_moves_total{reason=stranded} grew by %v, want 1", got)
	}
}
