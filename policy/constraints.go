package policy

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Weights of the preferred terms: local nodes (RTT 0) first, then remote clusters by the
// tightest class they meet, spread evenly from remoteTopWeight down to remoteLowWeight.
const (
	localWeight     = 100
	remoteTopWeight = 90
	remoteLowWeight = 10
)

// Apply writes the decision into spec: the required node affinity is the AND
// (cross-product) of the pod's own terms with the allowed sides — local
// `liqo.io/type NotIn [virtual-node]`, remote `liqo.io/remote-cluster-id In [eligible]`
// — or with a term no node matches when nothing is eligible; preferred terms favour
// lower RTT; the Liqo toleration is added only when a remote cluster is eligible and
// only if absent. User terms, matchFields and preferences are kept.
//
// Apply edits spec in place but never writes into slices it did not allocate, so objects
// sharing backing arrays with spec are not changed. Expressions it injected earlier
// (marked with InjectedKey) are replaced, so applying twice equals applying once, also
// after Liqo's webhook merged its own terms in between.
func (d Decision) Apply(spec *corev1.PodSpec) {
	var userTerms []corev1.NodeSelectorTerm
	var userPreferred []corev1.PreferredSchedulingTerm
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil {
		if req := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; req != nil {
			userTerms = stripInjectedTerms(req.NodeSelectorTerms)
		}
		userPreferred = stripInjectedPreferred(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	}

	inj := d.injected()
	merged := crossProduct(userTerms, inj.required())
	preferred := d.preferredTerms(userPreferred, inj)

	// One allocation for the three nested structs when the pod has none of them.
	type affinityBlock struct {
		affinity corev1.Affinity
		node     corev1.NodeAffinity
		selector corev1.NodeSelector
	}
	var block *affinityBlock
	if spec.Affinity == nil || spec.Affinity.NodeAffinity == nil {
		block = &affinityBlock{}
	}
	if spec.Affinity == nil {
		spec.Affinity = &block.affinity
	} else {
		cp := *spec.Affinity // do not write into an Affinity the caller may share
		spec.Affinity = &cp
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &block.node
	} else {
		cp := *spec.Affinity.NodeAffinity
		spec.Affinity.NodeAffinity = &cp
	}
	na := spec.Affinity.NodeAffinity
	if block != nil {
		block.selector.NodeSelectorTerms = merged
		na.RequiredDuringSchedulingIgnoredDuringExecution = &block.selector
	} else {
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: merged}
	}
	na.PreferredDuringSchedulingIgnoredDuringExecution = preferred

	if len(d.Remote) > 0 && !hasLiqoToleration(spec.Tolerations) {
		tols := make([]corev1.Toleration, len(spec.Tolerations), len(spec.Tolerations)+1)
		copy(tols, spec.Tolerations)
		spec.Tolerations = append(tols, LiqoToleration())
	}
}

// LiqoToleration is the toleration of Liqo's virtual-node taint, as Liqo's webhook adds it.
func LiqoToleration() corev1.Toleration {
	return corev1.Toleration{Key: LiqoTolerationKey, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}
}

func hasLiqoToleration(tols []corev1.Toleration) bool {
	for _, t := range tols {
		if t.Key == LiqoTolerationKey && t.Operator == corev1.TolerationOpExists &&
			(t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
			return true
		}
	}
	return false
}

var (
	marker       = corev1.NodeSelectorRequirement{Key: InjectedKey, Operator: corev1.NodeSelectorOpDoesNotExist}
	localExpr    = corev1.NodeSelectorRequirement{Key: LiqoTypeLabel, Operator: corev1.NodeSelectorOpNotIn, Values: []string{LiqoTypeVirtualNode}}
	noneExpr     = corev1.NodeSelectorRequirement{Key: InjectedKey, Operator: corev1.NodeSelectorOpIn, Values: []string{NoEligibleValue}}
	localPattern = []corev1.NodeSelectorRequirement{localExpr, marker}
	nonePattern  = []corev1.NodeSelectorRequirement{noneExpr}
)

// injection holds what Apply injects, built with one allocation for the eligible ids and
// one for every requirement (the remote term's and each preference tier's).
type injection struct {
	local  bool
	remote []corev1.NodeSelectorRequirement // [remote-cluster-id In ids, marker], or nil
	tiers  []corev1.NodeSelectorRequirement // pairs: [remote-cluster-id In tier ids, marker]
}

func (d Decision) injected() injection {
	inj := injection{local: d.Local}
	if len(d.Remote) == 0 {
		return inj
	}
	ids := make([]string, len(d.Remote))
	tiers := 1
	for i, c := range d.Remote {
		ids[i] = c.ID
		if i > 0 && c.Tier != d.Remote[i-1].Tier {
			tiers++
		}
	}
	reqs := make([]corev1.NodeSelectorRequirement, 0, 2+2*tiers)
	reqs = append(reqs, corev1.NodeSelectorRequirement{Key: LiqoRemoteClusterIDLabel, Operator: corev1.NodeSelectorOpIn, Values: ids}, marker)
	start := 0
	for i := 1; i <= len(d.Remote); i++ {
		if i < len(d.Remote) && d.Remote[i].Tier == d.Remote[start].Tier {
			continue
		}
		reqs = append(reqs, corev1.NodeSelectorRequirement{
			Key: LiqoRemoteClusterIDLabel, Operator: corev1.NodeSelectorOpIn, Values: ids[start:i:i],
		}, marker)
		start = i
	}
	inj.remote = reqs[0:2:2]
	inj.tiers = reqs[2:]
	return inj
}

// required are the injected alternatives (ORed): local, remote, or nothing; the second
// is nil when there is one.
func (inj injection) required() [2][]corev1.NodeSelectorRequirement {
	switch {
	case inj.local && inj.remote != nil:
		return [2][]corev1.NodeSelectorRequirement{localPattern, inj.remote}
	case inj.local:
		return [2][]corev1.NodeSelectorRequirement{localPattern}
	case inj.remote != nil:
		return [2][]corev1.NodeSelectorRequirement{inj.remote}
	default:
		return [2][]corev1.NodeSelectorRequirement{nonePattern}
	}
}

// crossProduct ANDs every user term with every injected alternative. Shared pattern
// slices are capped (s[:n:n]) so a later append by anyone copies instead of overwriting.
func crossProduct(user []corev1.NodeSelectorTerm, alternatives [2][]corev1.NodeSelectorRequirement) []corev1.NodeSelectorTerm {
	ours := alternatives[:1]
	if alternatives[1] != nil {
		ours = alternatives[:2]
	}
	if len(user) == 0 {
		terms := make([]corev1.NodeSelectorTerm, len(ours))
		for i, o := range ours {
			terms[i].MatchExpressions = o[:len(o):len(o)]
		}
		return terms
	}
	total := 0
	for _, u := range user {
		for _, o := range ours {
			total += len(u.MatchExpressions) + len(o)
		}
	}
	backing := make([]corev1.NodeSelectorRequirement, 0, total)
	terms := make([]corev1.NodeSelectorTerm, 0, len(user)*len(ours))
	for _, u := range user {
		if len(u.MatchExpressions) == 0 && len(u.MatchFields) == 0 {
			// An empty term matches no node; ANDing ours would make it match some.
			terms = append(terms, u)
			continue
		}
		for _, o := range ours {
			start := len(backing)
			backing = append(backing, u.MatchExpressions...)
			backing = append(backing, o...)
			terms = append(terms, corev1.NodeSelectorTerm{
				MatchExpressions: backing[start:len(backing):len(backing)],
				MatchFields:      slices.Clip(slices.Clone(u.MatchFields)),
			})
		}
	}
	return terms
}

// preferredTerms keeps the user's preferences and adds: local nodes (when remote is also
// allowed), then one term per class tier of eligible clusters, nearer tiers weighing more.
func (d Decision) preferredTerms(user []corev1.PreferredSchedulingTerm, inj injection) []corev1.PreferredSchedulingTerm {
	if inj.remote == nil {
		return user
	}
	tiers := len(inj.tiers) / 2
	n := len(user) + tiers
	if d.Local {
		n++
	}
	out := make([]corev1.PreferredSchedulingTerm, 0, n)
	out = append(out, user...)
	if d.Local {
		out = append(out, corev1.PreferredSchedulingTerm{Weight: localWeight,
			Preference: corev1.NodeSelectorTerm{MatchExpressions: localPattern[:2:2]}})
	}
	maxTier := d.Remote[len(d.Remote)-1].Tier
	first := 0 // index in d.Remote of the tier's first cluster
	for k := 0; k < tiers; k++ {
		exprs := inj.tiers[2*k : 2*k+2 : 2*k+2]
		out = append(out, corev1.PreferredSchedulingTerm{
			Weight:     tierWeight(d.Remote[first].Tier, maxTier),
			Preference: corev1.NodeSelectorTerm{MatchExpressions: exprs},
		})
		first += len(exprs[0].Values)
	}
	return out
}

func tierWeight(tier, maxTier int) int32 {
	if maxTier == 0 {
		return remoteTopWeight
	}
	return int32(remoteTopWeight - (remoteTopWeight-remoteLowWeight)*tier/maxTier)
}

// stripInjectedTerms removes injected expressions (a marker and the injected expression
// right before it, or the no-eligible expression; nothing else, so a user's expression is
// never dropped) and then duplicate terms: the cross-product made copies of each user
// term, and an exact duplicate among ORed terms changes no placement, so dropping it on
// every pass keeps Apply idempotent. Duplicates are found by each term's encoding, in
// time linear in the terms' size (a pod with thousands of terms must not cost seconds).
// It returns terms unchanged when there is nothing to remove.
func stripInjectedTerms(terms []corev1.NodeSelectorTerm) []corev1.NodeSelectorTerm {
	if len(terms) < 2 && !anyInjected(terms) {
		return terms
	}
	out := make([]corev1.NodeSelectorTerm, 0, len(terms))
	seen := make(map[string]struct{}, len(terms))
	for _, t := range terms {
		exprs := make([]corev1.NodeSelectorRequirement, 0, len(t.MatchExpressions))
		hadInjected := false
		for i, e := range t.MatchExpressions {
			switch {
			case i+1 < len(t.MatchExpressions) && isMarker(t.MatchExpressions[i+1]) && injectable(e):
				hadInjected = true // the injected expression the marker follows
			case isMarker(e) && i > 0 && injectable(t.MatchExpressions[i-1]), isNoEligible(e):
				hadInjected = true
			default:
				exprs = append(exprs, e)
			}
		}
		stripped := corev1.NodeSelectorTerm{MatchExpressions: exprs, MatchFields: t.MatchFields}
		if hadInjected && len(exprs) == 0 && len(t.MatchFields) == 0 {
			continue // a term that was only ours
		}
		key, err := stripped.Marshal()
		if err != nil { // cannot happen for a term; keep it rather than lose it
			out = append(out, stripped)
			continue
		}
		if _, dup := seen[string(key)]; !dup {
			seen[string(key)] = struct{}{}
			out = append(out, stripped)
		}
	}
	return out
}

func anyInjected(terms []corev1.NodeSelectorTerm) bool {
	for _, t := range terms {
		for _, e := range t.MatchExpressions {
			if e.Key == InjectedKey {
				return true
			}
		}
	}
	return false
}

func stripInjectedPreferred(terms []corev1.PreferredSchedulingTerm) []corev1.PreferredSchedulingTerm {
	if !slices.ContainsFunc(terms, injectedPreference) {
		return terms
	}
	out := make([]corev1.PreferredSchedulingTerm, 0, len(terms))
	for _, t := range terms {
		if !injectedPreference(t) {
			out = append(out, t)
		}
	}
	return out
}

// injectedPreference says whether t is a preference Apply added (exactly its shape).
func injectedPreference(t corev1.PreferredSchedulingTerm) bool {
	return injectedPreferenceShape(t.Preference.MatchExpressions)
}
