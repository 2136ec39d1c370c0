package policy

import (
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func sample(rtt time.Duration, at int) Sample {
	return Sample{State: LinkConnected, RTT: rtt, Valid: true, At: t0.Add(time.Duration(at) * 10 * time.Second)}
}

func TestTrackerEWMA(t *testing.T) {
	p, classes := DefaultSmoothing(), MustDefaultClassSet()
	tr := Tracker{}.Observe(sample(10*time.Millisecond, 1), p, classes)
	if tr.Smoothed != 10*time.Millisecond || tr.Effective != 10*time.Millisecond {
		t.Fatalf("first sample seeds the average: %+v", tr)
	}
	tr = tr.Observe(sample(20*time.Millisecond, 2), p, classes)
	if want := 13 * time.Millisecond; tr.Smoothed != want || tr.Effective != want {
		t.Fatalf("0.3*20 + 0.7*10 = 13ms; got smoothed %v effective %v", tr.Smoothed, tr.Effective)
	}
}

func TestTrackerIgnoresRepeatedTimestamps(t *testing.T) {
	p, classes := DefaultSmoothing(), MustDefaultClassSet()
	tr := Tracker{}.Observe(sample(10*time.Millisecond, 1), p, classes)
	again := tr.Observe(sample(50*time.Millisecond, 1), p, classes)
	if again != tr {
		t.Errorf("a sample with the same timestamp counted again: %+v -> %+v", tr, again)
	}
}

func TestTrackerHoldsAboveABoundUntilPastTheMargin(t *testing.T) {
	p, classes := DefaultSmoothing(), MustDefaultClassSet()
	tr := Tracker{}.Observe(sample(22*time.Millisecond, 1), p, classes) // interactive
	tr = tr.Observe(sample(17*time.Millisecond, 2), p, classes)         // smoothed 20.5ms
	tr = tr.Observe(sample(17*time.Millisecond, 3), p, classes)         // smoothed 19.45ms: under low's 20ms, not 10% under
	if want := 20*time.Millisecond + heldMargin; tr.Effective != want || tr.Smoothed >= 20*time.Millisecond {
		t.Fatalf("smoothed %v under the bound but within the margin: decision RTT %v, want held at %v", tr.Smoothed, tr.Effective, want)
	}
	for i := 4; tr.Smoothed > 18*time.Millisecond; i++ {
		tr = tr.Observe(sample(17*time.Millisecond, i), p, classes)
	}
	if tr.Effective != tr.Smoothed {
		t.Fatalf("smoothed %v is 10%% under the bound: decision RTT %v should follow", tr.Smoothed, tr.Effective)
	}
	before := tr.Effective
	tr = tr.Observe(sample(40*time.Millisecond, 60), p, classes)
	if tr.Effective <= before || tr.Effective != tr.Smoothed {
		t.Fatalf("decision RTT did not follow a rise at once: %v -> %+v", before, tr)
	}
	// A drop that does not cross a bound is followed at once.
	tr = Tracker{}.Observe(sample(40*time.Millisecond, 1), p, classes)
	tr = tr.Observe(sample(30*time.Millisecond, 2), p, classes)
	if tr.Effective != tr.Smoothed {
		t.Fatalf("drop within one class held: %+v", tr)
	}
}

// The hysteresis property: raw samples jittering ±10 % around a class bound change the
// cluster's class at most once, not on every sample.
func TestJitterAroundABoundDoesNotFlapTheClass(t *testing.T) {
	p, classes := DefaultSmoothing(), MustDefaultClassSet()
	for _, bound := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond} {
		for _, pattern := range []string{"alternating", "uniform"} {
			rng := rand.New(rand.NewPCG(1, uint64(bound)))
			tr := Tracker{}
			changes := 0
			var last string
			for i := 1; i <= 1000; i++ {
				j := 0.10
				if i%2 == 0 {
					j = -0.10
				}
				if pattern == "uniform" {
					j = (rng.Float64()*2 - 1) * 0.10
				}
				tr = tr.Observe(sample(time.Duration(float64(bound)*(1+j)), i), p, classes)
				c, _ := classes.TightestMet(tr.Effective)
				if last != "" && c.Name != last {
					changes++
				}
				last = c.Name
			}
			if changes > 1 {
				t.Errorf("bound %v, %s jitter ±10%%: class changed %d times in 1000 samples", bound, pattern, changes)
			}
		}
	}
}

// Without the recovery margin the same jitter does flap: the property above is the
// hysteresis's doing, not an accident of the EWMA.
func TestJitterFlapsWithoutHysteresis(t *testing.T) {
	p, classes := DefaultSmoothing(), MustDefaultClassSet()
	p.RecoveryMargin = 0
	rng := rand.New(rand.NewPCG(7, 7))
	tr := Tracker{}
	changes := 0
	var last string
	for i := 1; i <= 1000; i++ {
		tr = tr.Observe(sample(time.Duration(float64(20*time.Millisecond)*(1+(rng.Float64()*2-1)*0.10)), i), p, classes)
		c, _ := classes.TightestMet(tr.Effective)
		if last != "" && c.Name != last {
			changes++
		}
		last = c.Name
	}
	if changes < 10 {
		t.Errorf("expected flapping without hysteresis, got %d class changes", changes)
	}
}

func TestTrackerKeepsRTTThroughOutages(t *testing.T) {
	p, classes := DefaultSmoothing(), MustDefaultClassSet()
	tr := Tracker{}.Observe(sample(12*time.Millisecond, 1), p, classes)
	tr = tr.Observe(Sample{State: LinkError, At: t0.Add(30 * time.Second)}, p, classes)
	if tr.State != LinkError || tr.Effective != 12*time.Millisecond || !tr.LastSample.Equal(t0.Add(30*time.Second)) {
		t.Errorf("after Error/N/A: %+v; want state Error, RTT kept, timestamp advanced", tr)
	}
}

func TestSampleFromStatus(t *testing.T) {
	cases := map[string]struct {
		value, latency string
		want           Sample
		wantErr        bool
	}{
		"connected":      {"Connected", "12ms", Sample{State: LinkConnected, RTT: 12 * time.Millisecond, Valid: true, At: t0, Stamp: t0}, false},
		"Greek mu":       {"Connected", "850μs", Sample{State: LinkConnected, RTT: 850 * time.Microsecond, Valid: true, At: t0, Stamp: t0}, false},
		"error with N/A": {"Error", "N/A", Sample{State: LinkError, At: t0, Stamp: t0}, false},
		"connecting":     {"Connecting", "", Sample{State: LinkConnecting, At: t0, Stamp: t0}, false},
		"no status yet":  {"", "", Sample{State: LinkNoData, At: t0, Stamp: t0}, false},
		"garbage":        {"Connected", "soon", Sample{}, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := SampleFromStatus(tc.value, tc.latency, t0)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("SampleFromStatus(%q, %q) = %+v, %v; want %+v, error %v", tc.value, tc.latency, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseOverride(t *testing.T) {
	if d, err := ParseOverride(" 5ms "); err != nil || d != 5*time.Millisecond {
		t.Errorf("ParseOverride(5ms) = %v, %v", d, err)
	}
	for _, bad := range []string{"", "0ms", "-1ms", "fast"} {
		_, err := ParseOverride(bad)
		want := `kubexr.io/rtt-override: "` + bad + `" is not a positive duration (use e.g. "5ms")`
		if err == nil || err.Error() != want {
			t.Errorf("ParseOverride(%q) error = %v, want %q", bad, err, want)
		}
	}
}

// A Connected link whose gateway reports "N/A" keeps its RTT history but takes no
// bounded pods until it measures again.
func TestConnectedButNotMeasuringIsIneligible(t *testing.T) {
	p, classes := DefaultSmoothing(), MustDefaultClassSet()
	tr := Tracker{}.Observe(sample(5*time.Millisecond, 1), p, classes)
	tr = tr.Observe(Sample{State: LinkConnected, At: t0.Add(20 * time.Second)}, p, classes)
	c := Cluster{ID: "edge", Link: tr}
	if got := c.Ineligibility(t0.Add(21*time.Second), p); got != "latency N/A" {
		t.Errorf("Ineligibility after Connected+N/A = %q, want %q", got, "latency N/A")
	}
	tr = tr.Observe(sample(5*time.Millisecond, 3), p, classes)
	c.Link = tr
	if got := c.Ineligibility(t0.Add(31*time.Second), p); got != "" {
		t.Errorf("Ineligibility after measuring again = %q, want eligible", got)
	}
}

func TestTrackerPrefilters(t *testing.T) {
	const ms = time.Millisecond
	spike := []time.Duration{5 * ms, 5 * ms, 5 * ms, 31 * ms, 5 * ms}
	step := []time.Duration{5 * ms, 5 * ms, 5 * ms, 5 * ms, 5 * ms, 25 * ms, 25 * ms, 25 * ms}
	tests := []struct {
		name   string
		filter Prefilter
		in     []time.Duration
		// fed is what the EWMA received for the last report.
		fed time.Duration
		// maxSmoothed is the highest smoothed RTT seen along the way.
		maxSmoothed time.Duration
	}{
		{"none lets a spike through", PrefilterNone, spike, 5 * ms, 12800 * time.Microsecond},
		{"median-of-3 drops a single spike", PrefilterMedian3, spike, 5 * ms, 5 * ms},
		{"hampel drops a single spike", PrefilterHampel, spike, 5 * ms, 5 * ms},
		{"median-of-3 follows a step one report late", PrefilterMedian3, step, 25 * ms, 0},
		{"hampel follows a step once it is the median", PrefilterHampel, step, 25 * ms, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultSmoothing()
			p.Prefilter = tc.filter
			var tr Tracker
			var highest time.Duration
			for i, rtt := range tc.in {
				tr = tr.Observe(sample(rtt, i+1), p, MustDefaultClassSet())
				highest = max(highest, tr.Smoothed)
			}
			if got := tr.filtered(tc.filter); got != tc.fed {
				t.Errorf("last report fed to the EWMA as %v, want %v (window %v)", got, tc.fed, tr.recent[:tr.nRecent])
			}
			if tc.maxSmoothed > 0 && highest != tc.maxSmoothed {
				t.Errorf("highest smoothed RTT %v, want %v", highest, tc.maxSmoothed)
			}
		})
	}
}

func TestTrackerMedianOf3DelaysAStepByOneReport(t *testing.T) {
	const ms = time.Millisecond
	reportsToLeaveUltraLow := func(f Prefilter) int {
		p := DefaultSmoothing()
		p.Prefilter = f
		tr := Tracker{}
		for i := 1; i <= 5; i++ {
			tr = tr.Observe(sample(4*ms, i), p, MustDefaultClassSet())
		}
		for i := 1; i < 20; i++ {
			tr = tr.Observe(sample(25*ms, 5+i), p, MustDefaultClassSet())
			if tr.Effective > 10*ms {
				return i
			}
		}
		return -1
	}
	none, median3 := reportsToLeaveUltraLow(PrefilterNone), reportsToLeaveUltraLow(PrefilterMedian3)
	if none < 1 || median3 != none+1 {
		t.Errorf("reports to follow 4→25 ms past 10 ms: EWMA alone %d, with median-of-3 %d; want one more with the prefilter", none, median3)
	}
}

func TestTrackerSkipsTheFirstReportAfterAReconnection(t *testing.T) {
	const ms = time.Millisecond
	for _, skip := range []bool{false, true} {
		p := DefaultSmoothing()
		p.SkipFirstAfterReconnect = skip
		classes := MustDefaultClassSet()
		tr := Tracker{}.Observe(sample(40*ms, 1), p, classes)
		if !tr.Measuring || tr.Smoothed != 40*ms {
			t.Fatalf("skip=%t: the very first report must count (nothing to reconnect from): %+v", skip, tr)
		}
		tr = tr.Observe(Sample{State: LinkError, At: t0.Add(20 * time.Second)}, p, classes)
		handshake := tr.Observe(sample(90*ms, 3), p, classes)
		if skip {
			if handshake.Measuring || handshake.Smoothed != 40*ms {
				t.Errorf("skip: the first report after Error must be dropped and the link stay unusable: %+v", handshake)
			}
			next := handshake.Observe(sample(41*ms, 4), p, classes)
			if !next.Measuring || next.Smoothed <= 40*ms || next.Smoothed > 41*ms {
				t.Errorf("skip: the second report after Error must count: %+v", next)
			}
		} else if !handshake.Measuring || handshake.Smoothed != 55*ms {
			t.Errorf("no skip: the first report after Error counts (0.3·90 + 0.7·40 = 55 ms): %+v", handshake)
		}
	}
}
