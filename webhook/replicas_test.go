package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
	"github.com/kubexr/kubectl-xr/webhook"
)

// Two replicas behind their Service (a STAND-IN on loopback, see
// sandbox.ServiceStandIn) keep admitting while 10 hinted pods a second are created: one
// replica is deleted and comes back, then both are restarted one after the other (a
// rolling restart), then the leader is cut off from the API server for 15 s. No
// admission fails, and every pod carries its decision. Then a burst of 1 000 hinted
// pods by 16 clients: none fails, none is placed outside its bound.
func TestTwoReplicasSurviveLossRestartsAndALeaderCut(t *testing.T) {
	ctx := context.Background()
	c := env.sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: "replicas"})
	rs, err := xrwebhook.StartReplicas(ctx, env.sb, c, 2, webhook.Options{LeaderElection: &webhook.LeaderElection{
		Namespace: xrwebhook.Namespace, ID: xrwebhook.LeaseName,
		LeaseDuration: 6 * time.Second, RenewDeadline: 4 * time.Second, RetryPeriod: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Stop)
	if rs.PreStop <= 0 {
		t.Fatal("the Deployment in manifests/ has no preStop sleep")
	}
	// Two peered clusters (Liqo STAND-IN objects): near within "low" (20 ms), far not.
	for id, rtt := range map[string]time.Duration{"near": 5 * time.Millisecond, "far": 60 * time.Millisecond} {
		if _, err := c.StandInVirtualNode(ctx, id, "vk-"+id); err != nil {
			t.Fatal(err)
		}
		if err := c.StandInConnection(ctx, id, networkingv1beta1.Connected, rtt, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "xr",
		Labels: map[string]string{policy.LabelEnabled: "true"}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.Create(ctx, offloadingTo("xr", "near", "far")); err != nil {
		t.Fatal(err)
	}
	low := map[string]string{policy.AnnotationLatencyClass: "low"}
	sandbox.Eventually(t, "a hinted pod placed on near", time.Minute, func() (bool, string) {
		pod := barePod("xr", fmt.Sprintf("probe-%d", time.Now().UnixNano()), low)
		if err := c.Client.Create(ctx, pod); err != nil {
			return false, err.Error()
		}
		r := decisionOf(t, pod)
		return len(r.Eligible) == 1 && r.Eligible[0].ID == "near", pod.Annotations[policy.AnnotationDecision]
	})

	load := startSteadyLoad(ctx, c.Client, "xr", "steady", low, 100*time.Millisecond)

	time.Sleep(2 * time.Second)
	rs.Delete(0) // one replica lost…
	time.Sleep(3 * time.Second)
	if err := rs.Start(ctx, 0); err != nil { // …and back
		t.Fatal(err)
	}
	for i := range 2 { // a rolling restart: one replica after the other
		rs.Delete(i)
		if err := rs.Start(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	var leader int
	sandbox.Eventually(t, "a leader", time.Minute, func() (bool, string) { leader = rs.Leader(); return leader >= 0, "" })
	rs.Proxies[leader].Cut(true)
	cutAt := time.Now()
	tookOver := false
	for time.Since(cutAt) < 15*time.Second {
		tookOver = tookOver || rs.Leader() == 1-leader
		time.Sleep(200 * time.Millisecond)
	}
	rs.Proxies[leader].Cut(false)
	if !tookOver {
		t.Errorf("replica %d never took over while replica %d was cut off", 1-leader, leader)
	}
	time.Sleep(2 * time.Second)
	created, failures := load.Stop()
	if len(failures) > 0 {
		t.Errorf("%d of %d admissions failed across a lost replica, a rolling restart and a leader cut, e.g. %v", len(failures), created, failures[0])
	}
	t.Logf("steady load: %d hinted pods created, %d failed", created, len(failures))

	// The burst.
	const burst, clients = 1000, 16
	var failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	inParallel(clients, burst, func(i int) {
		if err := c.Client.Create(ctx, barePod("xr", fmt.Sprintf("burst-%d", i), low)); err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
	})
	elapsed := time.Since(start)
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d burst admissions failed, e.g. %v", n, burst, firstErr.Load())
	}
	t.Logf("burst: %d hinted pods by %d clients in %s (%.0f/s), %d failed", burst, clients, elapsed.Round(time.Millisecond),
		float64(burst)/elapsed.Seconds(), failed.Load())

	var pods corev1.PodList
	if err := c.Client.List(ctx, &pods, client.InNamespace("xr")); err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		r := decisionOf(t, p)
		for _, e := range r.Eligible {
			if e.ID != "near" {
				t.Errorf("pod %s may run on %s, outside its 20ms bound (decision %s)", p.Name, e.ID, p.Annotations[policy.AnnotationDecision])
			}
		}
	}
}

// decisionOf reads a pod's decision record; a pod without one fails the test.
func decisionOf(t *testing.T, pod *corev1.Pod) policy.Record {
	t.Helper()
	raw := pod.Annotations[policy.AnnotationDecision]
	var r policy.Record
	if raw == "" {
		t.Errorf("pod %s carries no decision", pod.Name)
		return r
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Errorf("pod %s: decision %q: %v", pod.Name, raw, err)
	}
	return r
}
