// Package rttreplay replays recorded reports of Liqo's real gateways through the
// observer's RTT estimator (policy.Tracker) and scores it against the delay that was
// injected when they were recorded. The traces are CSV files written by
// test/gateways/record-traces; see replay_test.go for the committed ones.
package rttreplay

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// Report is one status Liqo's gateway wrote on a Connection.
type Report struct {
	At      time.Time
	Status  string // Connected, Connecting, Error
	Latency string // as Liqo wrote it: "12.3ms", "N/A"
}

// Change is when the injected delay of a link changed; RTT 0 means the link was cut.
type Change struct {
	At  time.Time
	RTT time.Duration
}

// Trace is what one side of one link reported, with the link's injected truth.
type Trace struct {
	Link, Side string
	Reports    []Report
	Truth      []Change
}

// Name is link/side.
func (t Trace) Name() string { return t.Link + "/" + t.Side }

// truthAt is the injected delay at time at (0: cut), and whether any is known yet.
func (t Trace) truthAt(at time.Time) (time.Duration, bool) {
	i, found := slices.BinarySearchFunc(t.Truth, at, func(c Change, at time.Time) int { return c.At.Compare(at) })
	if found {
		return t.Truth[i].RTT, true
	}
	if i == 0 {
		return 0, false
	}
	return t.Truth[i-1].RTT, true
}

// header is the CSV's first row.
var header = []string{"time", "link", "side", "injected_ms", "status", "latency"}

// Load reads a recording: one Trace per link and side, sorted by name, each report and
// change in time order.
func Load(r io.Reader) ([]Trace, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || !slices.Equal(rows[0], header) {
		return nil, fmt.Errorf("not a gateway trace: the first row must be %q", header)
	}
	truth := map[string][]Change{}
	traces := map[string]*Trace{}
	for n, row := range rows[1:] {
		at, err := time.Parse(time.RFC3339Nano, row[0])
		if err != nil {
			return nil, fmt.Errorf("row %d: time: %w", n+2, err)
		}
		link, side := row[1], row[2]
		if side == "injector" { // a report row's injected_ms is for people: the truth is these rows
			rtt, err := parseInjected(row[3])
			if err != nil {
				return nil, fmt.Errorf("row %d: %w", n+2, err)
			}
			truth[link] = append(truth[link], Change{At: at, RTT: rtt})
			continue
		}
		key := link + "/" + side
		if traces[key] == nil {
			traces[key] = &Trace{Link: link, Side: side}
		}
		traces[key].Reports = append(traces[key].Reports, Report{At: at, Status: row[4], Latency: row[5]})
	}
	var out []Trace
	for _, t := range traces {
		t.Truth = truth[t.Link]
		if len(t.Truth) == 0 {
			return nil, fmt.Errorf("link %s has reports but no injector rows", t.Link)
		}
		slices.SortStableFunc(t.Truth, func(a, b Change) int { return a.At.Compare(b.At) })
		slices.SortStableFunc(t.Reports, func(a, b Report) int { return a.At.Compare(b.At) })
		out = append(out, *t)
	}
	if len(out) == 0 {
		return nil, errors.New("the trace has no reports")
	}
	slices.SortFunc(out, func(a, b Trace) int { return cmp.Compare(a.Name(), b.Name()) })
	return out, nil
}

func parseInjected(v string) (time.Duration, error) {
	if v == "cut" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("injected_ms %q is neither a positive number of milliseconds nor \"cut\"", v)
	}
	return time.Duration(f * float64(time.Millisecond)), nil
}
