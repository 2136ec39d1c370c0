package rttreplay

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/benchout"
)

// synthetic builds a trace CSV: one consumer-side report every 10 s from 0 with the
// given latencies ("" = Error with N/A), and the injector's changes (offset → "4" or "cut").
func synthetic(latencies []string, changes map[int]string) string {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var b strings.Builder
	b.WriteString(strings.Join(header, ",") + "\n")
	for s, inj := range changes {
		fmt.Fprintf(&b, "%s,l,injector,%s,,\n", t0.Add(time.Duration(s)*time.Second).Format(time.RFC3339Nano), inj)
	}
	for i, l := range latencies {
		status := "Connected"
		if l == "" {
			status, l = "Error", "N/A"
		}
		fmt.Fprintf(&b, "%s,l,consumer,0,%s,%s\n", t0.Add(time.Duration(i)*10*time.Second).Format(time.RFC3339), status, l)
	}
	return b.String()
}

func repeat(v string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestReplayScoresSpikesStepsAndCuts(t *testing.T) {
	classes := policy.MustDefaultClassSet()
	ewma, median3 := Candidates()[0], Candidates()[1]
	load := func(csv string) []Trace {
		t.Helper()
		traces, err := Load(strings.NewReader(csv))
		if err != nil {
			t.Fatal(err)
		}
		return traces
	}

	// 20 minutes steady at 4 ms with one 31 ms spike in the middle: one report lifts the
	// EWMA over ultra-low's 10 ms bound and back (two flaps); median-of-3 never moves.
	spiky := repeat("5ms", 120)
	spiky[60] = "31ms"
	traces := load(synthetic(spiky, map[int]string{0: "4"}))
	e, m := Replay(traces, ewma, classes), Replay(traces, median3, classes)
	if e.FlapsPerHour <= 0 || e.WrongPct <= 0 {
		t.Errorf("EWMA alone on a spike: flaps/h %.2f, wrong %.2f %%; want both > 0", e.FlapsPerHour, e.WrongPct)
	}
	if m.FlapsPerHour != 0 || m.WrongPct != 0 || m.OptimisticPct != 0 {
		t.Errorf("median-of-3 on a single spike: %+v; want no flap and never wrong", m)
	}
	if e.Steps != 0 {
		t.Errorf("a steady link has no true step: %+v", e)
	}

	// 4 ms, then 25 ms from 300 s on (reported from the next report), then cut at 600 s.
	lat := append(append(repeat("5ms", 31), repeat("26ms", 29)...), repeat("", 20)...)
	traces = load(synthetic(lat, map[int]string{0: "4", 300: "25", 600: "cut"}))
	e, m = Replay(traces, ewma, classes), Replay(traces, median3, classes)
	if e.Steps != 2 || e.Followed != 2 || m.Followed != 2 {
		t.Fatalf("two true class changes, both followed: EWMA %+v, median-of-3 %+v", e, m)
	}
	if m.FollowMax <= e.FollowMax {
		t.Errorf("median-of-3 must follow the step later than the EWMA alone: %v vs %v", m.FollowMax, e.FollowMax)
	}
	if e.OptimisticPct <= 0 {
		t.Errorf("the estimate stays ultra-low for a while after the step: optimistic must be > 0: %+v", e)
	}
	if best := Best([]Score{e, m}); best.Estimator != ewma.Name {
		t.Errorf("with no spike to drop, the estimator that follows faster wins: got %s", best.Estimator)
	}
}

func TestLoadRefusesMalformedTraces(t *testing.T) {
	for name, csv := range map[string]string{
		"no header":      "2026-12-04T12:00:00Z,l,consumer,4,Connected,5ms\n",
		"bad injected":   strings.Join(header, ",") + "\n2026-12-04T12:00:00Z,l,injector,fast,,\n",
		"bad time":       strings.Join(header, ",") + "\nnoon,l,consumer,4,Connected,5ms\n",
		"no truth":       strings.Join(header, ",") + "\n2026-12-04T12:00:00Z,l,consumer,4,Connected,5ms\n",
		"no reports":     strings.Join(header, ",") + "\n2026-12-04T12:00:00Z,l,injector,4,,\n",
		"short row":      strings.Join(header, ",") + "\n2026-12-04T12:00:00Z,l\n",
		"negative delay": strings.Join(header, ",") + "\n2026-12-04T12:00:00Z,l,injector,-4,,\n",
	} {
		if _, err := Load(strings.NewReader(csv)); err == nil {
			t.Errorf("%s: loaded without an error", name)
		}
	}
}

// recorded is the committed recording of Liqo v1.2.0's real gateways (see
// test/gateways/record-traces for how it was made), and baseline the adopted estimator's
// score on it when it was committed.
const (
	recorded = "testdata/gateway-traces-*.csv"
	baseline = "testdata/baseline.json"
)

// loadRecorded reads every committed recording; each file's traces stay separate.
func loadRecorded(t *testing.T) []Trace {
	t.Helper()
	files, err := filepath.Glob(recorded)
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded traces match %s (%v)", recorded, err)
	}
	var all []Trace
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		traces, err := Load(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		all = append(all, traces...)
	}
	return all
}

// TestAdoptedEstimatorOnRecordedGatewayTraces replays the recorded traces through every
// candidate: the observer's default smoothing must be the one Best picks, and must score
// no worse than the committed baseline. With KUBEXR_BENCH_OUT set (make bench) it writes
// the table.
func TestAdoptedEstimatorOnRecordedGatewayTraces(t *testing.T) {
	traces := loadRecorded(t)
	classes := policy.MustDefaultClassSet()
	var scores []Score
	adopted := -1
	for i, e := range Candidates() {
		scores = append(scores, Replay(traces, e, classes))
		if e.Params == policy.DefaultSmoothing() {
			adopted = i
		}
	}
	table := scoreTable(traces, scores)
	t.Log("\n" + table)
	if adopted < 0 {
		t.Fatalf("policy.DefaultSmoothing() %+v is none of the candidates", policy.DefaultSmoothing())
	}
	if best := Best(scores); best.Estimator != scores[adopted].Estimator {
		t.Errorf("the observer uses %q but %q scores best on the recorded traces", scores[adopted].Estimator, best.Estimator)
	}
	data, err := os.ReadFile(baseline)
	if err != nil {
		t.Fatal(err)
	}
	var base Score
	if err := json.Unmarshal(data, &base); err != nil {
		t.Fatalf("%s: %v", baseline, err)
	}
	got := scores[adopted]
	for _, worse := range []struct {
		what      string
		got, base float64
	}{
		{"flaps per settled hour", got.FlapsPerHour, base.FlapsPerHour},
		{"% of time in the wrong class", got.WrongPct, base.WrongPct},
		{"% of time labelled within a bound not met", got.OptimisticPct, base.OptimisticPct},
		{"steps not followed", float64(got.Steps - got.Followed), float64(base.Steps - base.Followed)},
		{"median time to follow a step (s)", got.FollowP50.Seconds(), base.FollowP50.Seconds()},
		{"longest time to follow a step (s)", got.FollowMax.Seconds(), base.FollowMax.Seconds()},
	} {
		if worse.got > worse.base+1e-9 {
			t.Errorf("%s: %.4g, worse than the committed baseline %.4g (%s)", worse.what, worse.got, worse.base, baseline)
		}
	}
	benchout.Write(t, map[string]any{"traces": recorded, "scores": scores, "adopted": got.Estimator}, table)
	if os.Getenv("KUBEXR_WRITE_BASELINE") == "1" { // after adopting a better estimator
		data, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(filepath.Clean(baseline), append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// scoreTable is BENCHMARKS.md §5's table.
func scoreTable(traces []Trace, scores []Score) string {
	var b strings.Builder
	reports := 0
	for _, tr := range traces {
		reports += len(tr.Reports)
	}
	fmt.Fprintf(&b, "%d reports on %d link sides, %.2f hours replayed (%.2f settled)\n\n", reports, len(traces), scores[0].Hours, scores[0].SettledHours)
	b.WriteString("| estimator | flaps / settled h | steps followed | follow p50 | follow max | wrong class | optimistic |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range scores {
		fmt.Fprintf(&b, "| %s | %.1f | %d / %d | %s | %s | %.2f %% | %.2f %% |\n", s.Estimator, s.FlapsPerHour,
			s.Followed, s.Steps, s.FollowP50, s.FollowMax, s.WrongPct, s.OptimisticPct)
	}
	return b.String()
}
