package policy

import (
	"fmt"
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
}

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
		return next
	}
	if t.Smoothed == 0 {
		next.Smoothed, next.Effective = s.RTT, s.RTT
		return next
	}
	next.Smoothed = time.Duration(p.Alpha*float64(s.RTT) + (1-p.Alpha)*float64(t.Smoothed))
	next.Effective = holdAtBounds(next.Smoothed, t.Effective, classes, p.RecoveryMargin)
	return next
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
