package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// LinkState is a peering's connection state as Liqo's Connection reports it.
type LinkState string

// Liqo's Connection status values, and NoData when there is no Connection (networking
// disabled) or no sample yet.
const (
	LinkConnected  LinkState = "Connected"
	LinkConnecting LinkState = "Connecting"
	LinkError      LinkState = "Error"
	LinkNoData     LinkState = "NoData"
)

// SmoothingParams tune how raw RTT samples become the RTT that decisions use.
type SmoothingParams struct {
	// Alpha is the EWMA weight of a new sample (0 < Alpha <= 1).
	Alpha float64
	// RecoveryMargin is the hysteresis at class bounds: a smoothed RTT that falls below
	// a bound counts as below it only once it is this fraction under it; rises are
	// followed at once. A cluster jittering around a bound stays on the worse side.
	RecoveryMargin float64
	// StaleAfter is how old the last sample may be before the cluster is ineligible for
	// every bounded class. Liqo's gateway refreshes the status at least every 10 s.
	StaleAfter time.Duration
	// Prefilter is applied to each reported RTT before it enters the EWMA: a report is one
	// ping, and single pings spike (see test/rttreplay for the recorded gateway traces
	// the choice was scored on).
	Prefilter Prefilter
	// SkipFirstAfterReconnect drops the first RTT reported after the link was not
	// measuring (Error, Connecting, N/A): it includes WireGuard's new handshake. The link
	// stays unusable until the next report.
	SkipFirstAfterReconnect bool
}

// Prefilter names a robust filter of raw RTT reports.
type Prefilter uint8

const (
	// PrefilterNone feeds every report to the EWMA as is.
	PrefilterNone Prefilter = iota
	// PrefilterMedian3 feeds the median of the last three reports (one report of delay
	// on a real step; a single spike never gets through).
	PrefilterMedian3
	// PrefilterHampel replaces a report further than 3 scaled median absolute deviations
	// from the median of the last five reports by that median.
	PrefilterHampel
)

// String is the name the replay's tables use.
func (f Prefilter) String() string {
	switch f {
	case PrefilterMedian3:
		return "median-of-3"
	case PrefilterHampel:
		return "hampel-5"
	default:
		return "none"
	}
}

// DefaultSmoothing: a sample weighs 30 %; a cluster enters a tighter class only when
// its smoothed RTT is 10 % under that class's bound; data older than 60 s is stale.
func DefaultSmoothing() SmoothingParams {
	return SmoothingParams{Alpha: 0.3, RecoveryMargin: 0.10, StaleAfter: 60 * time.Second}
}

// Sample is one status of a Connection, as written by Liqo's gateway.
type Sample struct {
	State LinkState
	// RTT is the measured latency; Valid is false for "N/A".
	RTT   time.Duration
	Valid bool
	// At is when the sample was taken: status.latency.timestamp, or the time it was
	// read if that stamp lies in the future.
	At time.Time
	// Stamp is status.latency.timestamp as Liqo wrote it: a sample is counted once, when
	// its stamp changes (zero: At is the stamp).
	Stamp time.Time
}

// Tracker is the smoothing state of one cluster. It is a value: Observe returns the next
// state and never changes the receiver.
type Tracker struct {
	State LinkState
	// Smoothed is the EWMA of valid samples; Effective is the RTT decisions use
	// (Smoothed with the recovery hysteresis applied).
	Smoothed, Effective time.Duration
	LastSample          time.Time
	// LastStamp is the last sample's Stamp, to count a re-read sample once.
	LastStamp time.Time
	Samples   int
	// Measuring is whether the last sample had an RTT: after "N/A" the history is kept,
	// but the link is not usable until the gateway measures again.
	Measuring bool
	// recent holds the last raw RTT reports for the prefilter, oldest first (a fixed array
	// keeps Tracker a comparable value); nRecent of them are filled.
	recent  [recentReports]time.Duration
	nRecent uint8
	// gap: the last sample was not measuring, so the next RTT may be a reconnection's.
	gap bool
}

// recentReports is the longest prefilter window (Hampel's five).
const recentReports = 5

// Observe folds one sample into the tracker. A sample with the last one's stamp, or not
// newer than it, is ignored, so re-reading an unchanged Connection does not count twice
// (also when its future stamp was read as now). A sample without a valid
// RTT (N/A, Error, Connecting) changes the state and freshness but keeps the RTT history,
// so a brief outage does not erase what is known about the link.
func (t Tracker) Observe(s Sample, p SmoothingParams, classes ClassSet) Tracker {
	stamp := s.Stamp
	if stamp.IsZero() {
		stamp = s.At
	}
	if t.Samples > 0 && (stamp.Equal(t.LastStamp) || !s.At.After(t.LastSample)) {
		return t
	}
	next := t
	next.State, next.LastSample, next.LastStamp = s.State, s.At, stamp
	next.Samples++
	next.Measuring = s.Valid && s.RTT > 0
	if !next.Measuring {
		next.gap = t.Samples > 0 || t.gap
		return next
	}
	next.gap = false
	if t.gap && p.SkipFirstAfterReconnect {
		next.Measuring = false // believed from the next report on
		return next
	}
	next.remember(s.RTT)
	rtt := next.filtered(p.Prefilter)
	if t.Smoothed == 0 {
		next.Smoothed, next.Effective = rtt, rtt
		return next
	}
	next.Smoothed = time.Duration(p.Alpha*float64(rtt) + (1-p.Alpha)*float64(t.Smoothed))
	next.Effective = holdAtBounds(next.Smoothed, t.Effective, classes, p.RecoveryMargin)
	return next
}

// remember appends a raw report to the window.
func (t *Tracker) remember(rtt time.Duration) {
	if int(t.nRecent) == recentReports {
		copy(t.recent[:], t.recent[1:])
		t.nRecent--
	}
	t.recent[t.nRecent] = rtt
	t.nRecent++
}

// filtered is the newest report after the prefilter.
func (t *Tracker) filtered(f Prefilter) time.Duration {
	newest := t.recent[t.nRecent-1]
	switch f {
	case PrefilterMedian3:
		return medianOf(t.window(3))
	case PrefilterHampel:
		w := t.window(recentReports)
		if len(w) < 3 {
			return newest
		}
		med := medianOf(w)
		deviations := make([]time.Duration, len(w))
		for i, v := range w {
			deviations[i] = absDuration(v - med)
		}
		slices.Sort(deviations)
		// 1.4826·MAD estimates the standard deviation of normal noise; the floor of a tenth
		// of the median keeps identical reports (MAD 0) from rejecting every change.
		limit := max(time.Duration(3*1.4826*float64(medianOf(deviations))), med/10)
		if absDuration(newest-med) > limit {
			return med
		}
	}
	return newest
}

// window is a sorted copy of the last n (or fewer) reports.
func (t *Tracker) window(n int) []time.Duration {
	n = min(n, int(t.nRecent))
	w := append([]time.Duration(nil), t.recent[int(t.nRecent)-n:t.nRecent]...)
	slices.Sort(w)
	return w
}

// medianOf a sorted slice; of two, their mean.
func medianOf(sorted []time.Duration) time.Duration {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// heldMargin is how far above a bound a held RTT sits: just outside the tighter class.
const heldMargin = time.Microsecond

// holdAtBounds is the hysteresis. A fall of the smoothed RTT below the first class bound
// under the previous decision RTT is not believed until it is margin under that bound:
// until then the decision RTT is held just above the bound.
func holdAtBounds(smoothed, prev time.Duration, classes ClassSet, margin float64) time.Duration {
	if smoothed >= prev {
		return smoothed
	}
	i := classes.tightestIndex(smoothed)
	if i == len(classes.classes) || !classes.classes[i].Bounded() {
		return smoothed
	}
	if b := classes.classes[i].MaxRTT; b < prev && float64(smoothed) > float64(b)*(1-margin) {
		return b + heldMargin
	}
	return smoothed
}

// HasRTT reports whether a valid RTT has ever been seen.
func (t Tracker) HasRTT() bool { return t.Effective > 0 }

// SampleFromStatus reads one Connection status as Liqo's gateway writes it: value
// Connected|Connecting|Error, latency "12ms"/"850μs"/"N/A", and its timestamp. An
// unknown status value is kept as is (and so is not Connected).
func SampleFromStatus(value, latency string, at time.Time) (Sample, error) {
	rtt, ok, err := ParseLiqoLatency(latency)
	if err != nil {
		return Sample{}, fmt.Errorf("connection status: %w", err)
	}
	state := LinkState(value)
	if value == "" {
		state = LinkNoData
	}
	return Sample{State: state, RTT: rtt, Valid: ok, At: at, Stamp: at}, nil
}

// ParseOverride reads a kubexr.io/rtt-override annotation ("5ms").
func ParseOverride(v string) (time.Duration, error) {
	d, err := parsePositiveDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		return 0, &HintError{AnnotationRTTOverride, v, `is not a positive duration (use e.g. "5ms")`}
	}
	return d, nil
}
