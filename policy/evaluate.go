package policy

import "time"

// Input is everything a placement depends on: the pod's hint sources (most specific
// first, as Resolve takes them), the observer's snapshot, the namespace's offloading and
// the time. The pod webhook, the mover and kubectl xr explain all pass one to Evaluate.
type Input struct {
	Sources   []Annotated
	Classes   ClassSet
	Inventory *Inventory
	// Offloading is the namespace's NamespaceOffloading against Inventory; nil when the
	// namespace is not offloaded.
	Offloading *Offloading
	Now        time.Time
}

// Evaluation is a pod's effective hint and the decision for it. Verdicts and Assess
// explain it cluster by cluster on demand, so admission pays only for the decision.
type Evaluation struct {
	Hint Hint
	// Decision is the zero Decision when the hint is not Present (the pod is left alone).
	Decision Decision

	inv *Inventory
	req Request
}

// Evaluate resolves the hint and decides where the pod may run. A malformed hint is the
// error, naming its source; the webhook denies such pods.
func Evaluate(in Input) (Evaluation, error) {
	hint, err := Resolve(in.Sources, in.Classes)
	if err != nil {
		return Evaluation{}, err
	}
	e := Evaluation{Hint: hint, inv: in.Inventory,
		req: Request{Hint: hint, Classes: in.Classes, Offloading: in.Offloading, Now: in.Now}}
	if hint.Present() {
		e.Decision = in.Inventory.Decide(e.req)
	}
	return e, nil
}

// Verdict says whether one remote cluster may take the pod now, and why not.
type Verdict struct {
	ID     string
	RTT    time.Duration
	HasRTT bool
	// Eligible: the decision allows the cluster. Otherwise Code and Reason say why not.
	Eligible bool
	Code     VerdictCode
	Reason   string
}

// VerdictCode classifies a cluster's verdict, for machine-readable output.
type VerdictCode string

// Verdict codes, in the order they are checked.
const (
	VerdictEligible       VerdictCode = "Eligible"
	VerdictPlacementLocal VerdictCode = "PlacementLocal"
	VerdictNotOffloaded   VerdictCode = "NotOffloaded"
	VerdictStrategyLocal  VerdictCode = "StrategyLocal"
	VerdictNotSelected    VerdictCode = "NotSelected"
	VerdictUnhealthy      VerdictCode = "Unhealthy"
	VerdictOverBound      VerdictCode = "OverBound"
)

// Verdicts judges every peered cluster in decision order (nearest first).
func (e Evaluation) Verdicts() []Verdict {
	if e.inv == nil {
		return nil
	}
	out := make([]Verdict, e.inv.Len())
	for i := range e.inv.clusters {
		out[i] = e.verdictAt(i)
	}
	return out
}

// Verdict judges the cluster with id; ok is false when it is not peered.
func (e Evaluation) Verdict(id string) (v Verdict, ok bool) {
	if e.inv == nil {
		return Verdict{}, false
	}
	for i := range e.inv.clusters {
		if e.inv.clusters[i].ID == id {
			return e.verdictAt(i), true
		}
	}
	return Verdict{}, false
}

func (e Evaluation) verdictAt(i int) Verdict {
	c := &e.inv.clusters[i]
	v := Verdict{ID: c.ID}
	v.RTT, v.HasRTT = c.RTT()
	for _, r := range e.Decision.Remote {
		if r.ID == c.ID {
			v.Eligible, v.Code = true, VerdictEligible
			return v
		}
	}
	off := e.req.Offloading
	switch why := c.Ineligibility(e.req.Now, e.inv.params); {
	case e.Hint.Placement == PlacementLocal:
		v.Code, v.Reason = VerdictPlacementLocal, "placement local"
	case off == nil:
		v.Code, v.Reason = VerdictNotOffloaded, "the namespace is not offloaded with Liqo"
	case off.Strategy == StrategyLocal:
		v.Code, v.Reason = VerdictStrategyLocal, "the namespace's NamespaceOffloading strategy is Local"
	case !off.Selected.Has(i):
		v.Code, v.Reason = VerdictNotSelected, "not selected by the namespace's NamespaceOffloading"
	case why != "" && e.Decision.Bound > 0:
		v.Code, v.Reason = VerdictUnhealthy, why
	default:
		v.Code, v.Reason = VerdictOverBound, "over the bound "+FormatRTT(e.Decision.Bound)
	}
	return v
}
