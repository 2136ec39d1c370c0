package plugin

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kubexr/kubectl-xr/policy"
)

// The per-pod line of explain: within, or why not and what the mover will do.
func TestExplainPodVerdict(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	link := func(rtt time.Duration) policy.Tracker {
		return policy.Tracker{State: policy.LinkConnected, Smoothed: rtt, Effective: rtt, LastSample: now, Samples: 1, Measuring: true}
	}
	inv := policy.NewInventory([]policy.Cluster{
		{ID: "athens", Link: link(27300 * time.Microsecond)},
		{ID: "frankfurt", Link: link(14 * time.Millisecond)},
		{ID: "tolerated", Link: link(21 * time.Millisecond)},
	}, policy.DefaultSmoothing())
	off := &policy.Offloading{Strategy: policy.StrategyLocalAndRemote, Selected: inv.SelectClusters(corev1.NodeSelector{})}
	rs := []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "stream-5d9", Controller: ptr.To(true)}}
	ds := []metav1.OwnerReference{{Kind: "DaemonSet", Name: "agent", Controller: ptr.To(true)}}
	since := func(d time.Duration) map[string]string {
		return map[string]string{policy.AnnotationOutOfBoundSince: now.Add(-d).Format(time.RFC3339)}
	}
	cases := map[string]struct {
		hint    map[string]string
		owners  []metav1.OwnerReference
		podAnn  map[string]string
		cluster string
		want    string
	}{
		"within": {hint: map[string]string{policy.AnnotationLatencyClass: "low"}, owners: rs, cluster: "frankfurt",
			want: "within bound"},
		"over the bound, inside the margin": {hint: map[string]string{policy.AnnotationLatencyClass: "low"}, owners: rs, cluster: "tolerated",
			want: "over its bound 20ms by less than the move margin: stays"},
		"never": {hint: map[string]string{policy.AnnotationLatencyClass: "low"}, owners: rs, cluster: "athens",
			want: "OUTSIDE ITS BOUND (RTT 27.3ms is over the bound 20ms); will not move: kubexr.io/move is never (from default)"},
		"a DaemonSet's pod": {hint: map[string]string{policy.AnnotationLatencyClass: "low", policy.AnnotationMove: "auto"}, owners: ds, cluster: "athens",
			want: "OUTSIDE ITS BOUND (RTT 27.3ms is over the bound 20ms); will not move: a DaemonSet pod belongs to its node and is never moved"},
		"nowhere else": {hint: map[string]string{policy.AnnotationLatencyClass: "ultra-low", policy.AnnotationPlacement: "remote", policy.AnnotationMove: "auto"},
			owners: rs, cluster: "athens",
			want: "OUTSIDE ITS BOUND (RTT 27.3ms is over the bound 10ms); will not move: no other cluster qualifies now"},
		"not seen by the mover yet": {hint: map[string]string{policy.AnnotationLatencyClass: "low", policy.AnnotationMove: "auto"}, owners: rs, cluster: "athens",
			want: "OUTSIDE ITS BOUND (RTT 27.3ms is over the bound 20ms); moves 30s after xr-webhook sees it"},
		"counting down": {hint: map[string]string{policy.AnnotationLatencyClass: "low", policy.AnnotationMove: "auto"}, owners: rs, podAnn: since(12 * time.Second),
			cluster: "athens", want: "OUTSIDE ITS BOUND (RTT 27.3ms is over the bound 20ms) for 12s, moves in 18s"},
		"due": {hint: map[string]string{policy.AnnotationLatencyClass: "low", policy.AnnotationMove: "auto", policy.AnnotationMoveAfter: "10s"}, owners: rs,
			podAnn: since(12 * time.Second), cluster: "athens",
			want: "OUTSIDE ITS BOUND (RTT 27.3ms is over the bound 20ms) for 12s; moves now (one pod per workload at a time)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ev, err := policy.Evaluate(policy.Input{Sources: []policy.Annotated{{Source: policy.Source{Kind: "deployment", Name: "stream"}, Annotations: tc.hint}},
				Classes: policy.MustDefaultClassSet(), Inventory: inv, Offloading: off, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", OwnerReferences: tc.owners, Annotations: tc.podAnn}}
			o := &ExplainOptions{now: func() time.Time { return now }}
			if got := o.podVerdict(pod, tc.cluster, ev, ev.Assess(tc.cluster, true)); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
