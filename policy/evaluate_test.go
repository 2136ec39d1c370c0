package policy

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sources(annotations map[string]string) []Annotated {
	return []Annotated{{Source: depSrc, Annotations: annotations}}
}

func TestEvaluateVerdictsSayWhyEachClusterIsOut(t *testing.T) {
	inv := demoInventory(
		makeCluster("down").rtt(3*ms).state(LinkError).obj(),
		func() Cluster { c := makeCluster("drained").rtt(2 * ms).obj(); c.NotReady = true; return c }(),
	)
	type got struct {
		ID     string
		Code   VerdictCode
		Reason string
	}
	cases := map[string]struct {
		annotations map[string]string
		offloading  func(*Inventory) *Offloading
		want        []got
	}{
		"low in an offloaded namespace": {
			annotations: map[string]string{AnnotationLatencyClass: "low"},
			offloading:  offloadedToAll,
			want: []got{
				{"drained", VerdictUnhealthy, "virtual node NotReady"},
				{"down", VerdictUnhealthy, "connection Error"},
				{"edge-athens", VerdictEligible, ""},
				{"edge-frankfurt", VerdictEligible, ""},
				{"cloud-geneva", VerdictOverBound, "over the bound 20ms"},
			},
		},
		"namespace not offloaded": {
			annotations: map[string]string{AnnotationLatencyClass: "low"},
			offloading:  func(*Inventory) *Offloading { return nil },
			want: []got{
				{"drained", VerdictNotOffloaded, "the namespace is not offloaded with Liqo"},
				{"down", VerdictNotOffloaded, "the namespace is not offloaded with Liqo"},
				{"edge-athens", VerdictNotOffloaded, "the namespace is not offloaded with Liqo"},
				{"edge-frankfurt", VerdictNotOffloaded, "the namespace is not offloaded with Liqo"},
				{"cloud-geneva", VerdictNotOffloaded, "the namespace is not offloaded with Liqo"},
			},
		},
		"strategy Local": {
			annotations: map[string]string{AnnotationLatencyClass: "best-effort"},
			offloading: func(inv *Inventory) *Offloading {
				return &Offloading{Strategy: StrategyLocal, Selected: inv.SelectClusters(emptySelector)}
			},
			want: []got{
				{"drained", VerdictStrategyLocal, "the namespace's NamespaceOffloading strategy is Local"},
				{"down", VerdictStrategyLocal, "the namespace's NamespaceOffloading strategy is Local"},
				{"edge-athens", VerdictStrategyLocal, "the namespace's NamespaceOffloading strategy is Local"},
				{"edge-frankfurt", VerdictStrategyLocal, "the namespace's NamespaceOffloading strategy is Local"},
				{"cloud-geneva", VerdictStrategyLocal, "the namespace's NamespaceOffloading strategy is Local"},
			},
		},
		"placement local": {
			annotations: map[string]string{AnnotationLatencyClass: "low", AnnotationPlacement: "local"},
			offloading:  offloadedToAll,
			want: []got{
				{"drained", VerdictPlacementLocal, "placement local"},
				{"down", VerdictPlacementLocal, "placement local"},
				{"edge-athens", VerdictPlacementLocal, "placement local"},
				{"edge-frankfurt", VerdictPlacementLocal, "placement local"},
				{"cloud-geneva", VerdictPlacementLocal, "placement local"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e, err := Evaluate(Input{Sources: sources(tc.annotations), Classes: MustDefaultClassSet(),
				Inventory: inv, Offloading: tc.offloading(inv), Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			var gotV []got
			for _, v := range e.Verdicts() {
				gotV = append(gotV, got{v.ID, v.Code, v.Reason})
				// A verdict is eligible exactly when the decision lists the cluster.
				if listed := contains(e.Decision.Remote, v.ID); v.Eligible != listed {
					t.Errorf("%s: verdict eligible=%v but decision lists it=%v", v.ID, v.Eligible, listed)
				}
			}
			if diff := cmp.Diff(tc.want, gotV); diff != "" {
				t.Errorf("verdicts (-want +got):\n%s", diff)
			}
		})
	}
}

func contains(cs []Candidate, id string) bool {
	for _, c := range cs {
		if c.ID == id {
			return true
		}
	}
	return false
}

func TestEvaluateUnhintedAndMalformed(t *testing.T) {
	inv := demoInventory()
	e, err := Evaluate(Input{Sources: sources(nil), Classes: MustDefaultClassSet(), Inventory: inv, Now: t0})
	if err != nil || e.Hint.Present() || e.Decision.Eligible() {
		t.Errorf("unhinted pod: hint %+v decision %+v err %v; want no hint, no decision", e.Hint, e.Decision, err)
	}
	if AnyHint(sources(map[string]string{"other": "x"})) || !AnyHint(sources(map[string]string{AnnotationMoveAfter: "1s"})) {
		t.Error("AnyHint must see exactly the hint keys")
	}
	_, err = Evaluate(Input{Sources: sources(map[string]string{AnnotationMove: "sometimes"}), Classes: MustDefaultClassSet(), Inventory: inv, Now: t0})
	if want := `deployment/render: kubexr.io/move: "sometimes" is not a move policy (use auto or never)`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestAssess(t *testing.T) {
	inv := demoInventory(
		makeCluster("edge-tolerated").rtt(21*ms).obj(), // within 10 % over the low bound
		makeCluster("edge-over").rtt(23*ms).obj(),
		makeCluster("edge-stale").rtt(2*ms).sampledAt(t0.Add(-2*time.Minute)).obj(),
		makeCluster("edge-na").rtt(2*ms).obj(),
		makeCluster("edge-pinned").rtt(40*ms).override(5*ms).obj(),
	)
	na, _ := inv.Get("edge-na")
	na.Link.Measuring = false
	cases := map[string]struct {
		class     string
		cluster   string
		nodeReady bool
		want      Assessment
	}{
		"local nodes are always within":      {class: "low", cluster: "", nodeReady: true, want: Assessment{Within: true}},
		"within the bound":                   {class: "low", cluster: "edge-frankfurt", nodeReady: true, want: Assessment{Within: true, RTT: 14 * ms, HasRTT: true}},
		"over the bound but within 10 %":     {class: "low", cluster: "edge-tolerated", nodeReady: true, want: Assessment{Within: true, RTT: 21 * ms, HasRTT: true}},
		"over the bound by more than 10 %":   {class: "low", cluster: "edge-over", nodeReady: true, want: Assessment{Reason: MoveReasonOverBound, Detail: "RTT 23ms is over the bound 20ms", RTT: 23 * ms, HasRTT: true}},
		"stale measurement":                  {class: "low", cluster: "edge-stale", nodeReady: true, want: Assessment{Reason: MoveReasonLinkUnhealthy, Detail: "latency data stale (last 2m0s ago)", RTT: 2 * ms, HasRTT: true}},
		"N/A measurement":                    {class: "low", cluster: "edge-na", nodeReady: true, want: Assessment{Reason: MoveReasonLinkUnhealthy, Detail: "latency N/A", RTT: 2 * ms, HasRTT: true}},
		"node NotReady":                      {class: "low", cluster: "edge-athens", nodeReady: false, want: Assessment{Reason: MoveReasonNodeNotReady, Detail: "its virtual node is NotReady", RTT: 4 * ms, HasRTT: true}},
		"no longer peered":                   {class: "low", cluster: "gone", nodeReady: true, want: Assessment{Reason: MoveReasonNotPeered, Detail: "cluster gone is no longer peered"}},
		"operator override wins":             {class: "ultra-low", cluster: "edge-pinned", nodeReady: true, want: Assessment{Within: true, RTT: 5 * ms, HasRTT: true}},
		"best-effort never leaves its bound": {class: "best-effort", cluster: "edge-stale", nodeReady: false, want: Assessment{Within: true}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e, err := Evaluate(Input{Sources: sources(map[string]string{AnnotationLatencyClass: tc.class}),
				Classes: MustDefaultClassSet(), Inventory: inv, Offloading: offloadedToAll(inv), Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, e.Assess(tc.cluster, tc.nodeReady)); diff != "" {
				t.Errorf("assessment (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHasAlternative(t *testing.T) {
	inv := demoInventory()
	cases := map[string]struct {
		annotations map[string]string
		current     string
		want        bool
	}{
		"local nodes are an alternative to a remote cluster": {map[string]string{AnnotationLatencyClass: "ultra-low"}, "edge-frankfurt", true},
		"the only eligible cluster is the current one":       {map[string]string{AnnotationLatencyClass: "ultra-low", AnnotationPlacement: "remote"}, "edge-athens", false},
		"another remote cluster":                             {map[string]string{AnnotationLatencyClass: "low", AnnotationPlacement: "remote"}, "edge-athens", true},
		"nothing eligible at all":                            {map[string]string{AnnotationMaxRTT: "1ms", AnnotationPlacement: "remote"}, "edge-athens", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e, err := Evaluate(Input{Sources: sources(tc.annotations), Classes: MustDefaultClassSet(),
				Inventory: inv, Offloading: offloadedToAll(inv), Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if got := e.HasAlternative(tc.current); got != tc.want {
				t.Errorf("HasAlternative(%q) = %v, want %v (decision %+v)", tc.current, got, tc.want, e.Decision)
			}
		})
	}
}

// moves replays samples every interval through the observer's tracker and the mover's
// rule (out of bound continuously for the move delay) and counts the moves.
func moves(samples []time.Duration, interval time.Duration, p SmoothingParams) int {
	classes := MustDefaultClassSet()
	hint := sources(map[string]string{AnnotationLatencyClass: "low", AnnotationMove: "auto"})
	var tr Tracker
	var since time.Time
	n := 0
	for i, rtt := range samples {
		now := t0.Add(time.Duration(i) * interval)
		tr = tr.Observe(Sample{State: LinkConnected, RTT: rtt, Valid: true, At: now}, p, classes)
		c := makeCluster("edge").obj()
		c.Link = tr
		inv := NewInventory([]Cluster{c}, p)
		e, _ := Evaluate(Input{Sources: hint, Classes: classes, Inventory: inv, Offloading: offloadedToAll(inv), Now: now})
		switch a := e.Assess("edge", true); {
		case a.Within:
			since = time.Time{}
		case since.IsZero():
			since = now
		case !now.Before(e.MoveDue(since)):
			n++
			since = time.Time{} // the pod moved; a new one would start over
		}
	}
	return n
}

func TestJitterAroundABoundMovesNothing(t *testing.T) {
	bound := 20 * ms
	rng := rand.New(rand.NewPCG(1, 2))
	uniform := make([]time.Duration, 150)
	for i := range uniform {
		uniform[i] = time.Duration(float64(bound) * (0.9 + 0.2*rng.Float64()))
	}
	runs := make([]time.Duration, 150) // long runs at +10 %, short dips to -10 %
	for i := range runs {
		runs[i] = bound * 11 / 10
		if i%10 == 9 {
			runs[i] = bound * 9 / 10
		}
	}
	cases := map[string]struct {
		samples  []time.Duration
		interval time.Duration
	}{
		// 5 minutes of Liqo's status updates (every 10 s) and of its pings (every 2 s).
		"uniform ±10 %, 10 s apart": {uniform[:30], 10 * time.Second},
		"uniform ±10 %, 2 s apart":  {uniform, 2 * time.Second},
		"runs at +10 %, 2 s apart":  {runs, 2 * time.Second},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := moves(tc.samples, tc.interval, DefaultSmoothing()); got != 0 {
				t.Errorf("%d moves, want 0", got)
			}
			// The margin is what holds them: without it the same samples do move pods.
			noMargin := DefaultSmoothing()
			noMargin.RecoveryMargin = 0
			if got := moves(tc.samples, tc.interval, noMargin); got == 0 {
				t.Errorf("without the margin: 0 moves; the test no longer exercises the margin")
			}
		})
	}
	// A real degradation (25 ms against a 20 ms bound) moves once the delay has passed.
	degraded := make([]time.Duration, 30)
	for i := range degraded {
		degraded[i] = 25 * ms
	}
	if got := moves(degraded, 2*time.Second, DefaultSmoothing()); got == 0 {
		t.Errorf("a link at 25ms for a minute moved nothing")
	}
}
