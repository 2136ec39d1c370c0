package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	podSrc = Source{Kind: "pod", Name: "render-abc"}
	rsSrc  = Source{Kind: "replicaset", Name: "render-7f"}
	depSrc = Source{Kind: "deployment", Name: "render"}
	nsSrc  = Source{Kind: "namespace", Name: "xr-demo"}
)

func TestValidateAnnotationsMessages(t *testing.T) {
	cases := map[string]struct {
		annotations map[string]string
		want        string
	}{
		"not a duration": {map[string]string{AnnotationMaxRTT: "fast"},
			`kubexr.io/max-rtt: "fast" is not a duration (use e.g. "15ms")`},
		"zero": {map[string]string{AnnotationMaxRTT: "0ms"},
			`kubexr.io/max-rtt: "0ms" must be greater than zero (use e.g. "15ms")`},
		"bare zero": {map[string]string{AnnotationMaxRTT: "0"},
			`kubexr.io/max-rtt: "0" must be greater than zero (use e.g. "15ms")`},
		"negative": {map[string]string{AnnotationMaxRTT: "-5ms"},
			`kubexr.io/max-rtt: "-5ms" must be greater than zero (use e.g. "15ms")`},
		"too long": {map[string]string{AnnotationMaxRTT: "7200s"},
			`kubexr.io/max-rtt: "7200s" is longer than an hour (use e.g. "15ms", or no max-rtt for no bound)`},
		"unit missing": {map[string]string{AnnotationMaxRTT: "15"},
			`kubexr.io/max-rtt: "15" is not a duration (use e.g. "15ms")`},
		"unknown class lists the known ones": {map[string]string{AnnotationLatencyClass: "lo"},
			`kubexr.io/latency-class: "lo" is not a known LatencyClass (known: best-effort, interactive, low, moderate, ultra-low)`},
		"bad placement": {map[string]string{AnnotationPlacement: "edge"},
			`kubexr.io/placement: "edge" is not a placement (use any, local or remote)`},
		"bad move": {map[string]string{AnnotationMove: "always"},
			`kubexr.io/move: "always" is not a move policy (use auto or never)`},
		"bad move-after": {map[string]string{AnnotationMoveAfter: "soon"},
			`kubexr.io/move-after: "soon" is not a duration (use e.g. "30s" or "2m")`},
		"negative move-after": {map[string]string{AnnotationMoveAfter: "-5s"},
			`kubexr.io/move-after: "-5s" is negative (use e.g. "30s", or "0s" to move at once)`},
		"move-after over a day": {map[string]string{AnnotationMoveAfter: "48h"},
			`kubexr.io/move-after: "48h" is longer than 24h (use kubexr.io/move: never to keep pods where they run)`},
		"every bad value is reported": {map[string]string{AnnotationLatencyClass: "x", AnnotationPlacement: "y"},
			"kubexr.io/latency-class: \"x\" is not a known LatencyClass (known: best-effort, interactive, low, moderate, ultra-low)\n" +
				`kubexr.io/placement: "y" is not a placement (use any, local or remote)`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := ValidateAnnotations(tc.annotations, MustDefaultClassSet())
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v\nwant    %s", err, tc.want)
			}
		})
	}
}

func TestValidateAnnotationsAcceptsGoodHints(t *testing.T) {
	for _, a := range []map[string]string{
		nil,
		{"unrelated": "x"},
		{AnnotationLatencyClass: "low"},
		{AnnotationMaxRTT: "15ms", AnnotationPlacement: "remote"},
		{AnnotationMaxRTT: "850us"},
		{AnnotationPlacement: "local"},
		{AnnotationMove: "auto", AnnotationMoveAfter: "2m"},
		{AnnotationMove: "never", AnnotationMoveAfter: "0s"},
	} {
		if err := ValidateAnnotations(a, MustDefaultClassSet()); err != nil {
			t.Errorf("ValidateAnnotations(%v) = %v, want nil", a, err)
		}
	}
}

func TestResolvePrecedence(t *testing.T) {
	cases := map[string]struct {
		sources []Annotated
		want    Hint
		bound   time.Duration
	}{
		"no hint anywhere": {
			sources: []Annotated{{podSrc, nil}, {nsSrc, map[string]string{"other": "x"}}},
			want:    Hint{Placement: PlacementAny},
		},
		"namespace default applies": {
			sources: []Annotated{{podSrc, nil}, {depSrc, nil}, {nsSrc, map[string]string{AnnotationLatencyClass: "low"}}},
			want:    Hint{Class: "low", ClassMaxRTT: 20 * time.Millisecond, BoundSource: nsSrc, Placement: PlacementAny},
			bound:   20 * time.Millisecond,
		},
		"workload overrides namespace": {
			sources: []Annotated{{podSrc, nil}, {rsSrc, nil}, {depSrc, map[string]string{AnnotationLatencyClass: "ultra-low"}},
				{nsSrc, map[string]string{AnnotationLatencyClass: "low"}}},
			want:  Hint{Class: "ultra-low", ClassMaxRTT: 10 * time.Millisecond, BoundSource: depSrc, Placement: PlacementAny},
			bound: 10 * time.Millisecond,
		},
		"pod overrides workload": {
			sources: []Annotated{{podSrc, map[string]string{AnnotationLatencyClass: "interactive"}},
				{depSrc, map[string]string{AnnotationLatencyClass: "ultra-low"}}},
			want:  Hint{Class: "interactive", ClassMaxRTT: 50 * time.Millisecond, BoundSource: podSrc, Placement: PlacementAny},
			bound: 50 * time.Millisecond,
		},
		"class and max-rtt come together: a workload's best-effort is not tightened by the namespace's max-rtt": {
			sources: []Annotated{{depSrc, map[string]string{AnnotationLatencyClass: "best-effort"}},
				{nsSrc, map[string]string{AnnotationMaxRTT: "20ms"}}},
			want: Hint{Class: "best-effort", BoundSource: depSrc, Placement: PlacementAny},
		},
		"both on one object: the tighter wins": {
			sources: []Annotated{{podSrc, map[string]string{AnnotationLatencyClass: "interactive", AnnotationMaxRTT: "15ms"}}},
			want: Hint{Class: "interactive", ClassMaxRTT: 50 * time.Millisecond, MaxRTT: 15 * time.Millisecond,
				BoundSource: podSrc, Placement: PlacementAny},
			bound: 15 * time.Millisecond,
		},
		"a looser max-rtt does not loosen the class": {
			sources: []Annotated{{podSrc, map[string]string{AnnotationLatencyClass: "low", AnnotationMaxRTT: "80ms"}}},
			want: Hint{Class: "low", ClassMaxRTT: 20 * time.Millisecond, MaxRTT: 80 * time.Millisecond,
				BoundSource: podSrc, Placement: PlacementAny},
			bound: 20 * time.Millisecond,
		},
		"placement resolves on its own": {
			sources: []Annotated{{podSrc, map[string]string{AnnotationMaxRTT: "30ms"}},
				{nsSrc, map[string]string{AnnotationPlacement: "remote", AnnotationLatencyClass: "low"}}},
			want:  Hint{MaxRTT: 30 * time.Millisecond, BoundSource: podSrc, Placement: PlacementRemote, PlacementSource: nsSrc},
			bound: 30 * time.Millisecond,
		},
		"a bad value shadowed by a more specific source is not used": {
			sources: []Annotated{{podSrc, map[string]string{AnnotationLatencyClass: "low", AnnotationPlacement: "any"}},
				{nsSrc, map[string]string{AnnotationLatencyClass: "deleted-class", AnnotationPlacement: "nowhere"}}},
			want:  Hint{Class: "low", ClassMaxRTT: 20 * time.Millisecond, BoundSource: podSrc, Placement: PlacementAny, PlacementSource: podSrc},
			bound: 20 * time.Millisecond,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Resolve(tc.sources, MustDefaultClassSet())
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			// The move hints resolve on their own (TestResolveMovePrecedence).
			ignoreMove := cmpopts.IgnoreFields(Hint{}, "Move", "MoveSource", "MoveAfter", "MoveAfterSource")
			if diff := cmp.Diff(tc.want, got, ignoreMove); diff != "" {
				t.Errorf("hint (-want +got):\n%s", diff)
			}
			if got.Bound() != tc.bound {
				t.Errorf("Bound() = %v, want %v", got.Bound(), tc.bound)
			}
		})
	}
}

func TestResolveMovePrecedence(t *testing.T) {
	slow, err := NewClassSet(append(DefaultClasses()[1:], Class{Name: "ultra-low", MaxRTT: 10 * time.Millisecond,
		MoveAfter: 2 * time.Minute, HasMoveAfter: true}))
	if err != nil {
		t.Fatal(err)
	}
	lcSrc := Source{Kind: "latencyclass", Name: "ultra-low"}
	type move struct {
		Move            Move
		MoveSource      Source
		MoveAfter       time.Duration
		MoveAfterSource Source
	}
	cases := map[string]struct {
		sources []Annotated
		classes ClassSet
		want    move
	}{
		"default: never, after 30s": {
			sources: []Annotated{{podSrc, map[string]string{AnnotationLatencyClass: "low"}}},
			classes: MustDefaultClassSet(),
			want:    move{Move: MoveNever, MoveAfter: DefaultMoveAfter},
		},
		"namespace opts in, workload sets the delay": {
			sources: []Annotated{{podSrc, nil}, {depSrc, map[string]string{AnnotationMoveAfter: "10s"}},
				{nsSrc, map[string]string{AnnotationMove: "auto", AnnotationLatencyClass: "low"}}},
			classes: MustDefaultClassSet(),
			want:    move{Move: MoveAuto, MoveSource: nsSrc, MoveAfter: 10 * time.Second, MoveAfterSource: depSrc},
		},
		"pod opts out of its namespace's auto": {
			sources: []Annotated{{podSrc, map[string]string{AnnotationMove: "never"}},
				{nsSrc, map[string]string{AnnotationMove: "auto", AnnotationLatencyClass: "low"}}},
			classes: MustDefaultClassSet(),
			want:    move{Move: MoveNever, MoveSource: podSrc, MoveAfter: DefaultMoveAfter},
		},
		"class's moveAfter when no hint sets one": {
			sources: []Annotated{{depSrc, map[string]string{AnnotationMove: "auto", AnnotationLatencyClass: "ultra-low"}}},
			classes: slow,
			want:    move{Move: MoveAuto, MoveSource: depSrc, MoveAfter: 2 * time.Minute, MoveAfterSource: lcSrc},
		},
		"a hint's move-after wins over the class's": {
			sources: []Annotated{{depSrc, map[string]string{AnnotationLatencyClass: "ultra-low", AnnotationMoveAfter: "0s"}}},
			classes: slow,
			want:    move{Move: MoveNever, MoveAfter: 0, MoveAfterSource: depSrc},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h, err := Resolve(tc.sources, tc.classes)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			got := move{h.Move, h.MoveSource, h.MoveAfter, h.MoveAfterSource}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("move (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveErrorsNameTheSource(t *testing.T) {
	cases := map[string]struct {
		sources []Annotated
		want    string
	}{
		"deployment's bad max-rtt": {
			sources: []Annotated{{podSrc, nil}, {depSrc, map[string]string{AnnotationMaxRTT: "fast"}}},
			want:    `deployment/render: kubexr.io/max-rtt: "fast" is not a duration (use e.g. "15ms")`,
		},
		"workload's bad move": {
			sources: []Annotated{{podSrc, map[string]string{AnnotationMove: "never"}}, {depSrc, map[string]string{AnnotationMoveAfter: "1 minute"}}},
			want:    `deployment/render: kubexr.io/move-after: "1 minute" is not a duration (use e.g. "30s" or "2m")`,
		},
		"namespace's unknown class when nothing shadows it": {
			sources: []Annotated{{podSrc, map[string]string{AnnotationPlacement: "remote"}}, {nsSrc, map[string]string{AnnotationLatencyClass: "gone"}}},
			want:    `namespace/xr-demo: kubexr.io/latency-class: "gone" is not a known LatencyClass (known: best-effort, interactive, low, moderate, ultra-low)`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Resolve(tc.sources, MustDefaultClassSet())
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v\nwant    %s", err, tc.want)
			}
		})
	}
}

func TestHintNoteOnLooserMaxRTT(t *testing.T) {
	h := Hint{Class: "low", ClassMaxRTT: 20 * time.Millisecond, MaxRTT: 80 * time.Millisecond}
	want := "kubexr.io/max-rtt 80ms is looser than class low (20ms): the class bound applies"
	if got := h.Note(); got != want {
		t.Errorf("Note() = %q, want %q", got, want)
	}
	if got := (Hint{Class: "low", ClassMaxRTT: 20 * time.Millisecond, MaxRTT: 15 * time.Millisecond}).Note(); got != "" {
		t.Errorf("Note() for a tighter max-rtt = %q, want empty", got)
	}
}

func FuzzValidateAnnotations(f *testing.F) {
	for _, s := range [][3]string{{"low", "15ms", "any"}, {"", "fast", "x"}, {"ultra-low", "-0", "remote"}, {"µ", "1.5.5ms", ""}} {
		f.Add(s[0], s[1], s[2])
	}
	classes := MustDefaultClassSet()
	f.Fuzz(func(t *testing.T, class, maxRTT, placement string) {
		a := map[string]string{AnnotationLatencyClass: class, AnnotationMaxRTT: maxRTT, AnnotationPlacement: placement}
		err := ValidateAnnotations(a, classes)
		h, rerr := Resolve([]Annotated{{podSrc, a}}, classes)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("ValidateAnnotations=%v but Resolve=%v for %v", err, rerr, a)
		}
		if err == nil && (h.Bound() < 0 || h.Bound() > time.Hour) {
			t.Fatalf("accepted bound %v out of range for %v", h.Bound(), a)
		}
	})
}
