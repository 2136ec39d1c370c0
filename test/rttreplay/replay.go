package rttreplay

import (
	"math"
	"slices"
	"time"

	"github.com/kubexr/kubectl-xr/policy"
)

// Estimator is a named setting of the observer's smoothing.
type Estimator struct {
	Name   string
	Params policy.SmoothingParams
}

// Candidates are the estimators the replay compares: the EWMA with hysteresis alone (the
// observer's estimator until the traces were recorded) and robust variants of it.
func Candidates() []Estimator {
	ewma := policy.SmoothingParams{Alpha: 0.3, RecoveryMargin: 0.10, StaleAfter: 60 * time.Second}
	with := func(f policy.Prefilter, skip bool) policy.SmoothingParams {
		p := ewma
		p.Prefilter, p.SkipFirstAfterReconnect = f, skip
		return p
	}
	return []Estimator{
		{"ewma", ewma},
		{"median-of-3 + ewma", with(policy.PrefilterMedian3, false)},
		{"hampel-5 + ewma", with(policy.PrefilterHampel, false)},
		{"ewma, first report after reconnect dropped", with(policy.PrefilterNone, true)},
		{"median-of-3 + ewma, first report after reconnect dropped", with(policy.PrefilterMedian3, true)},
		{"hampel-5 + ewma, first report after reconnect dropped", with(policy.PrefilterHampel, true)},
	}
}

// Settled is how long the true class must have been unchanged before a change of the
// estimated class counts as a flap: long enough for every candidate to follow a step.
const Settled = 2 * time.Minute

// step is the replay's clock resolution.
const step = time.Second

// Score is how an estimator did on traces, measured on a one-second clock.
type Score struct {
	Estimator string `json:"estimator"`
	// Hours replayed, and of those the hours on settled links (true class unchanged for
	// Settled).
	Hours        float64 `json:"hours"`
	SettledHours float64 `json:"settledHours"`
	// FlapsPerHour: changes of the estimated class per settled hour.
	FlapsPerHour float64 `json:"flapsPerHour"`
	// Steps: changes of the true class; Followed: those the estimate reached before the
	// truth changed again; FollowP50/FollowMax: time from the change to the estimate
	// showing the new class.
	Steps     int           `json:"steps"`
	Followed  int           `json:"followed"`
	FollowP50 time.Duration `json:"followP50"`
	FollowMax time.Duration `json:"followMax"`
	// WrongPct: % of the time the estimated class was not the true one; OptimisticPct: %
	// of the time it was tighter (the cluster was labelled within a bound it did not meet).
	WrongPct      float64 `json:"wrongPct"`
	OptimisticPct float64 `json:"optimisticPct"`
}

// Penalty ranks estimators: % of time wrong, with optimistic time (a bound promised and
// not met) counted twice.
func (s Score) Penalty() float64 { return s.WrongPct + s.OptimisticPct }

// Replay runs every trace through e and scores it against the injected truth. A cut link
// truly meets only unbounded classes.
func Replay(traces []Trace, e Estimator, classes policy.ClassSet) Score {
	rank := map[string]int{}
	for i, c := range classes.Classes() { // tightest first
		rank[c.Name] = i
	}
	unmet := len(rank) // no class met at all
	classRank := func(c policy.Class, ok bool) int {
		if !ok {
			return unmet
		}
		return rank[c.Name]
	}
	var total, settled, wrong, optimistic time.Duration
	var flaps int
	var follows []time.Duration
	s := Score{Estimator: e.Name}
	for _, tr := range traces {
		if len(tr.Reports) == 0 {
			continue
		}
		c := policy.Cluster{ID: tr.Link}
		next := 0
		start, end := tr.Reports[0].At, tr.Reports[len(tr.Reports)-1].At
		trueRank, estRank := -1, -1
		var trueSince time.Time
		pending := false // a true class change the estimate has not shown yet
		for now := start; !now.After(end); now = now.Add(step) {
			for ; next < len(tr.Reports) && !tr.Reports[next].At.After(now); next++ {
				r := tr.Reports[next]
				sample, err := policy.SampleFromStatus(r.Status, r.Latency, r.At)
				if err != nil {
					continue // Liqo wrote something unreadable: the observer skips it too
				}
				c.Link = c.Link.Observe(sample, e.Params, classes)
			}
			truth, known := tr.truthAt(now)
			if !known {
				continue
			}
			if truth == 0 {
				truth = time.Duration(math.MaxInt64) // cut: only unbounded classes are met
			}
			tRank := classRank(classes.TightestMet(truth))
			eRank := classRank(c.TightestClass(classes, now, e.Params))
			if tRank != trueRank {
				if trueRank >= 0 {
					s.Steps++
					pending = true
				}
				trueRank, trueSince = tRank, now
			}
			if pending && eRank == tRank {
				follows = append(follows, now.Sub(trueSince))
				pending = false
			}
			isSettled := now.Sub(trueSince) >= Settled
			if isSettled {
				settled += step
				if estRank >= 0 && eRank != estRank {
					flaps++
				}
			}
			estRank = eRank
			total += step
			if eRank != tRank {
				wrong += step
			}
			if eRank < tRank {
				optimistic += step
			}
		}
	}
	s.Hours, s.SettledHours = total.Hours(), settled.Hours()
	if settled > 0 {
		s.FlapsPerHour = float64(flaps) / settled.Hours()
	}
	if total > 0 {
		s.WrongPct = 100 * float64(wrong) / float64(total)
		s.OptimisticPct = 100 * float64(optimistic) / float64(total)
	}
	s.Followed = len(follows)
	if len(follows) > 0 {
		slices.Sort(follows)
		s.FollowP50, s.FollowMax = follows[(len(follows)-1)/2], follows[len(follows)-1]
	}
	return s
}

// StatusInterval is Liqo's --ping-update-status-interval default: how much slower than
// the EWMA alone an adopted estimator may follow a real change.
const StatusInterval = 10 * time.Second

// Best is the estimator to adopt among scores (scores[0] is the current one): the lowest
// penalty among those that follow as many steps as the current one, no more than one
// status interval later at the median and at the worst.
func Best(scores []Score) Score {
	current, best := scores[0], scores[0]
	for _, s := range scores[1:] {
		fastEnough := s.Followed >= current.Followed &&
			s.FollowP50 <= current.FollowP50+StatusInterval && s.FollowMax <= current.FollowMax+StatusInterval
		if fastEnough && s.Penalty() < best.Penalty() {
			best = s
		}
	}
	return best
}
