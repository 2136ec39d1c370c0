package policy

import (
	"fmt"
	"time"
)

// Request is everything a decision depends on besides the inventory.
type Request struct {
	Hint    Hint
	Classes ClassSet
	// Offloading is the namespace's NamespaceOffloading; nil when the namespace is not
	// offloaded, in which case no remote cluster can run its pods (Liqo #3296: a pod
	// bound to such a virtual node is stuck in OffloadingBackOff).
	Offloading *Offloading
	Now        time.Time
}

// Candidate is a remote cluster a pod may run on.
type Candidate struct {
	ID string
	// RTT is the decision RTT; HasRTT is false for best-effort pods sent to a cluster
	// without latency data.
	RTT    time.Duration
	HasRTT bool
	// Tier is the index of the tightest class the cluster meets (0 = tightest), used to
	// weigh preferences.
	Tier int
}

// Decision says where a pod may run, and why.
type Decision struct {
	Hint  Hint
	Bound time.Duration
	// Local: the pod may run on this cluster's own nodes (RTT 0).
	Local bool
	// Remote are the eligible remote clusters, nearest first.
	Remote []Candidate
	// Nearest is the nearest remote cluster that is healthy and selected but over the
	// bound, for "nearest is 38ms" messages; empty ID when there is none.
	Nearest Candidate
	// Reason explains why remote clusters (or all clusters) are excluded; "" when
	// nothing was excluded for a reason worth telling.
	Reason string
}

// Eligible reports whether the pod can run anywhere.
func (d Decision) Eligible() bool { return d.Local || len(d.Remote) > 0 }

// Decide computes where a pod with r.Hint may run. Local nodes count as RTT 0. The
// inventory is ordered by RTT, so with a bound only the clusters within it are visited.
func (inv *Inventory) Decide(r Request) Decision {
	d := Decision{Hint: r.Hint, Bound: r.Hint.Bound()}
	local := r.Hint.Placement != PlacementRemote
	remote := r.Hint.Placement != PlacementLocal
	var why string
	switch {
	case r.Offloading == nil:
		if remote {
			remote, why = false, "namespace is not offloaded with Liqo"
		}
	case r.Offloading.Strategy == StrategyLocal:
		if remote {
			remote, why = false, "the namespace's NamespaceOffloading strategy is Local"
		}
	case r.Offloading.Strategy == StrategyRemote:
		if local {
			local, why = false, "the namespace's NamespaceOffloading strategy is Remote"
		}
	}
	d.Local = local
	if remote {
		var remoteWhy string
		d.Remote, d.Nearest, remoteWhy = inv.eligibleRemote(r, d.Bound)
		why = joinReason(why, remoteWhy)
	}
	if r.Hint.Placement == PlacementLocal {
		why = joinReason("placement local", why)
	}
	d.Reason = why
	return d
}

// verdict is what a cluster is for one request.
type verdict int

const (
	eligible   verdict = iota
	ineligible         // unhealthy, stale or not selected
	pastBound          // over the bound, and so is every later cluster
)

func (inv *Inventory) judge(i int, r Request, bound time.Duration, now int64) verdict {
	e := &inv.scan[i]
	if bound > 0 {
		if !e.hasRTT || e.rtt > bound {
			return pastBound // ordered by RTT, clusters without one last
		}
		if !inv.usable(i, now) {
			return ineligible // Cluster.Ineligibility says why
		}
	}
	if !r.Offloading.Selected.Has(i) {
		return ineligible
	}
	return eligible
}

// usable: overridden, or connected with an RTT and fresh at now (Unix nanoseconds). The
// packed twin of Cluster.Ineligibility, which says why; a test keeps them in agreement.
func (inv *Inventory) usable(i int, now int64) bool {
	e := &inv.scan[i]
	return e.healthy && (e.overridden || now-e.last <= int64(inv.params.StaleAfter))
}

// eligibleRemote scans the RTT-ordered prefix within the bound twice, counting and then
// filling, so the result is one allocation of the exact size.
func (inv *Inventory) eligibleRemote(r Request, bound time.Duration) ([]Candidate, Candidate, string) {
	now := r.Now.UnixNano()
	end, count := len(inv.clusters), 0
	for i := range inv.clusters {
		v := inv.judge(i, r, bound, now)
		if v == pastBound {
			end = i
			break
		}
		if v == eligible {
			count++
		}
	}
	nearest := inv.nearestPastBound(end, r, now)
	if count == 0 {
		return nil, nearest, inv.noRemoteReason(end, r, bound, nearest)
	}
	out := make([]Candidate, 0, count)
	classes, tier := r.Classes.classes, 0
	for i := 0; i < end; i++ {
		if inv.judge(i, r, bound, now) != eligible {
			continue
		}
		rtt, hasRTT := inv.scan[i].rtt, inv.scan[i].hasRTT
		for tier < len(classes) && classes[tier].Bounded() && rtt > classes[tier].MaxRTT {
			tier++
		}
		out = append(out, Candidate{ID: inv.clusters[i].ID, RTT: rtt, HasRTT: hasRTT, Tier: tier})
	}
	return out, nearest, ""
}

// nearestPastBound is the first healthy, selected cluster from position start on: the
// nearest one over the bound, named in messages.
func (inv *Inventory) nearestPastBound(start int, r Request, now int64) Candidate {
	for i := start; i < len(inv.clusters) && inv.scan[i].hasRTT; i++ {
		if r.Offloading.Selected.Has(i) && inv.usable(i, now) {
			rtt := inv.scan[i].rtt
			return Candidate{ID: inv.clusters[i].ID, RTT: rtt, HasRTT: true, Tier: r.Classes.tightestIndex(rtt)}
		}
	}
	return Candidate{}
}

func (inv *Inventory) noRemoteReason(end int, r Request, bound time.Duration, nearest Candidate) string {
	if bound > 0 {
		if nearest.ID != "" {
			return fmt.Sprintf("no remote cluster within %s (nearest: %s at %s)", FormatRTT(bound), nearest.ID, FormatRTT(nearest.RTT))
		}
		for i := 0; i < end; i++ {
			if why := inv.clusters[i].Ineligibility(r.Now, inv.params); why != "" {
				return "no remote cluster eligible (" + inv.clusters[i].ID + ": " + why + ")"
			}
		}
	}
	if len(inv.clusters) == 0 {
		return "no peered cluster"
	}
	return "no remote cluster selected by the namespace's NamespaceOffloading"
}

func joinReason(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
