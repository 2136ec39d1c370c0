package policy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

var emptySelector = corev1.NodeSelector{}

const ms = time.Millisecond

// The demo's three providers: athens 4ms, frankfurt 14ms, geneva 38ms.
func demoInventory(extra ...Cluster) *Inventory {
	return inventory(append([]Cluster{
		makeCluster("edge-athens").rtt(4 * ms).obj(),
		makeCluster("edge-frankfurt").rtt(14 * ms).obj(),
		makeCluster("cloud-geneva").rtt(38 * ms).obj(),
	}, extra...)...)
}

type decideCase struct {
	inv        *Inventory
	hint       Hint
	offloading func(*Inventory) *Offloading
	now        time.Time
	wantLocal  bool
	wantRemote []string
	wantReason string
}

func TestDecide(t *testing.T) {
	cases := map[string]decideCase{
		"ultra-low: local and the 4ms edge": {
			inv: demoInventory(), hint: classHint("ultra-low"), offloading: offloadedToAll,
			wantLocal: true, wantRemote: []string{"edge-athens"},
		},
		"low: nearest two, nearest first": {
			inv: demoInventory(), hint: classHint("low"), offloading: offloadedToAll,
			wantLocal: true, wantRemote: []string{"edge-athens", "edge-frankfurt"},
		},
		"best-effort: every cluster": {
			inv: demoInventory(), hint: classHint("best-effort"), offloading: offloadedToAll,
			wantLocal: true, wantRemote: []string{"edge-athens", "edge-frankfurt", "cloud-geneva"},
		},
		"explicit max-rtt between classes": {
			inv: demoInventory(), hint: Hint{MaxRTT: 15 * ms, Placement: PlacementAny}, offloading: offloadedToAll,
			wantLocal: true, wantRemote: []string{"edge-athens", "edge-frankfurt"},
		},
		"placement remote excludes local nodes": {
			inv: demoInventory(), hint: classHint("low").with(PlacementRemote), offloading: offloadedToAll,
			wantRemote: []string{"edge-athens", "edge-frankfurt"},
		},
		"placement local excludes every remote cluster": {
			inv: demoInventory(), hint: classHint("best-effort").with(PlacementLocal), offloading: offloadedToAll,
			wantLocal: true, wantReason: "placement local",
		},
		"placement remote with none within the bound: nothing eligible, nearest named": {
			inv: inventory(makeCluster("cloud-geneva").rtt(38 * ms).obj()), hint: classHint("low").with(PlacementRemote),
			offloading: offloadedToAll,
			wantReason: "no remote cluster within 20ms (nearest: cloud-geneva at 38ms)",
		},
		"namespace not offloaded: no remote cluster (Liqo #3296)": {
			inv: demoInventory(), hint: classHint("best-effort"), offloading: func(*Inventory) *Offloading { return nil },
			wantLocal: true, wantReason: "namespace is not offloaded with Liqo",
		},
		"strategy Local and placement remote: nothing": {
			inv: demoInventory(), hint: classHint("low").with(PlacementRemote),
			offloading: func(inv *Inventory) *Offloading {
				return &Offloading{Strategy: StrategyLocal, Selected: inv.SelectClusters(emptySelector)}
			},
			wantReason: "the namespace's NamespaceOffloading strategy is Local",
		},
		"strategy Remote excludes local nodes for placement any": {
			inv: demoInventory(), hint: classHint("ultra-low"),
			offloading: func(inv *Inventory) *Offloading {
				return &Offloading{Strategy: StrategyRemote, Selected: inv.SelectClusters(emptySelector)}
			},
			wantRemote: []string{"edge-athens"}, wantReason: "the namespace's NamespaceOffloading strategy is Remote",
		},
		"strategy Remote and placement local: nothing": {
			inv: demoInventory(), hint: classHint("low").with(PlacementLocal),
			offloading: func(inv *Inventory) *Offloading {
				return &Offloading{Strategy: StrategyRemote, Selected: inv.SelectClusters(emptySelector)}
			},
			wantReason: "placement local; the namespace's NamespaceOffloading strategy is Remote",
		},
		"clusterSelector: only selected clusters": {
			inv: inventory(makeCluster("edge-athens").rtt(4*ms).label("region", "south").obj(),
				makeCluster("edge-frankfurt").rtt(14*ms).label("region", "north").obj()),
			hint: classHint("low"),
			offloading: func(inv *Inventory) *Offloading {
				return &Offloading{Strategy: StrategyLocalAndRemote, Selected: inv.SelectClusters(corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
						{Key: "region", Operator: corev1.NodeSelectorOpIn, Values: []string{"north"}}}}}})}
			},
			wantLocal: true, wantRemote: []string{"edge-frankfurt"},
		},
		"Connecting, Error and no data never take bounded pods": {
			inv: inventory(makeCluster("connecting").rtt(2*ms).state(LinkConnecting).obj(),
				makeCluster("error").rtt(3*ms).state(LinkError).obj(),
				makeCluster("nodata").obj()),
			hint: classHint("low"), offloading: offloadedToAll,
			wantLocal: true, wantReason: "no remote cluster eligible (connecting: connection Connecting)",
		},
		"...but may take best-effort pods": {
			inv: inventory(makeCluster("connecting").rtt(2*ms).state(LinkConnecting).obj(),
				makeCluster("nodata").obj()),
			hint: classHint("best-effort"), offloading: offloadedToAll,
			wantLocal: true, wantRemote: []string{"connecting", "nodata"},
		},
		"stale data is ineligible for bounded pods": {
			inv: inventory(makeCluster("stale").rtt(2*ms).sampledAt(t0.Add(-61*time.Second)).obj(),
				makeCluster("fresh").rtt(9*ms).obj()),
			hint: classHint("ultra-low"), offloading: offloadedToAll,
			wantLocal: true, wantRemote: []string{"fresh"},
		},
		"an operator override wins over measurements": {
			inv: inventory(makeCluster("measured-slow").rtt(80*ms).override(5*ms).obj(),
				makeCluster("nodata-but-asserted").override(8*ms).obj()),
			hint: classHint("ultra-low"), offloading: offloadedToAll,
			wantLocal: true, wantRemote: []string{"measured-slow", "nodata-but-asserted"},
		},
		"no peered cluster at all": {
			inv: inventory(), hint: classHint("low").with(PlacementRemote), offloading: offloadedToAll,
			wantReason: "no peered cluster",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = t0.Add(5 * time.Second)
			}
			d := tc.inv.Decide(Request{Hint: tc.hint, Classes: MustDefaultClassSet(), Offloading: tc.offloading(tc.inv), Now: now})
			var got []string
			for _, c := range d.Remote {
				got = append(got, c.ID)
			}
			if diff := cmp.Diff(tc.wantRemote, got); diff != "" {
				t.Errorf("remote (-want +got):\n%s", diff)
			}
			if d.Local != tc.wantLocal {
				t.Errorf("local = %v, want %v", d.Local, tc.wantLocal)
			}
			if d.Reason != tc.wantReason {
				t.Errorf("reason = %q, want %q", d.Reason, tc.wantReason)
			}
		})
	}
}

func TestDecisionRecord(t *testing.T) {
	inv := demoInventory()
	h := classHint("low")
	h.MaxRTT = 80 * ms
	d := inv.Decide(Request{Hint: h, Classes: MustDefaultClassSet(), Offloading: offloadedToAll(inv), Now: t0})
	want := `{"class":"low","bound":"20ms","source":"deployment/app","placement":"any","local":true,` +
		`"eligible":[{"id":"edge-athens","rtt":"4ms"},{"id":"edge-frankfurt","rtt":"14ms"}],` +
		`"note":"kubexr.io/max-rtt 80ms is looser than class low (20ms): the class bound applies"}`
	if got := d.RecordJSON(); got != want {
		t.Errorf("record:\n got %s\nwant %s", got, want)
	}
	back, err := ParseRecord(want)
	if err != nil || back.Bound != "20ms" || len(back.Eligible) != 2 {
		t.Errorf("ParseRecord = %+v, %v", back, err)
	}
}

func TestDecisionRecordCapsClusters(t *testing.T) {
	inv := benchInventory(50)
	d := inv.Decide(Request{Hint: classHint("best-effort"), Classes: MustDefaultClassSet(), Offloading: offloadedToAll(inv), Now: t0})
	r := d.Record()
	if len(r.Eligible) != maxRecordedClusters || r.More != 50-maxRecordedClusters {
		t.Errorf("record lists %d and %d more, want %d and %d", len(r.Eligible), r.More, maxRecordedClusters, 50-maxRecordedClusters)
	}
}

func TestRecordJSONMatchesEncodingJSON(t *testing.T) {
	inv := benchInventory(12)
	weird := classHint("low")
	weird.BoundSource = Source{Kind: "pod", Name: "a\"b<c>&\u2028\x01é\xff"}
	for name, d := range map[string]Decision{
		"eligible and more": inv.Decide(Request{Hint: classHint("best-effort"), Classes: MustDefaultClassSet(), Offloading: offloadedToAll(inv), Now: t0}),
		"none within bound": inv.Decide(Request{Hint: classHint("ultra-low").with(PlacementRemote), Classes: MustDefaultClassSet(), Offloading: offloadedToAll(inv), Now: t0}),
		"default source":    inv.Decide(Request{Hint: Hint{Placement: PlacementLocal, PlacementSource: podSrc}, Classes: MustDefaultClassSet(), Now: t0}),
		"escaping":          {Hint: weird, Bound: 20 * ms, Reason: "x\ty\\z"},
		"unknown rtt":       {Hint: classHint("best-effort"), Remote: []Candidate{{ID: "nodata"}}},
		"move stated":       {Hint: func() Hint { h := classHint("low"); h.Move, h.MoveSource = MoveNever, nsSrc; return h }()},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(d.Record())
			if err != nil {
				t.Fatal(err)
			}
			if got := d.RecordJSON(); got != string(want) {
				t.Errorf("RecordJSON:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// judge (the packed scan) and Cluster.Ineligibility (the reason) must agree on every
// cluster within the bound.
func TestScanAgreesWithIneligibility(t *testing.T) {
	now := t0.Add(5 * time.Second)
	inv := inventory(
		makeCluster("ok").rtt(3*ms).obj(),
		makeCluster("connecting").rtt(3*ms).state(LinkConnecting).obj(),
		makeCluster("error").rtt(3*ms).state(LinkError).obj(),
		makeCluster("stale").rtt(3*ms).sampledAt(t0.Add(-time.Minute)).obj(),
		makeCluster("just-fresh").rtt(3*ms).sampledAt(now.Add(-60*time.Second)).obj(),
		makeCluster("override-on-error").rtt(3*ms).state(LinkError).override(4*ms).obj(),
		makeCluster("override-no-data").override(5*ms).obj(),
	)
	r := Request{Classes: MustDefaultClassSet(), Offloading: offloadedToAll(inv), Now: now}
	for i, c := range inv.Clusters() {
		scanSays := inv.judge(i, r, 10*ms, now.UnixNano()) == ineligible
		reason := c.Ineligibility(now, inv.Params())
		if scanSays != (reason != "") {
			t.Errorf("%s: scan ineligible=%v but Ineligibility=%q", c.ID, scanSays, reason)
		}
	}
}
