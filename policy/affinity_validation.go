package policy

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits on a hinted pod's own node affinity. Apply ANDs every required term with up to
// two injected alternatives, so the placed pod has twice the user's terms; past these
// limits a pod is refused instead of making the webhook, the API server and the
// scheduler pay for an affinity no real workload has.
const (
	MaxUserNodeSelectorTerms = 100
	MaxUserTermExpressions   = 100
	MaxUserPreferredTerms    = 100
)

// ValidateNodeAffinity refuses a pod spec Apply cannot place faithfully: an expression of
// the user's own on the reserved key InjectedKey (Apply would strip it as its own and
// lose the user's constraint), and more terms or expressions than the limits above.
// Expressions of exactly the shapes Apply injects are not the user's: they come from an
// earlier placement (reinvocation, or a pod copied from `kubectl get -o yaml`) and are
// decided again. fld is the path of spec (spec for a pod, spec.template.spec for a
// workload).
func ValidateNodeAffinity(spec *corev1.PodSpec, fld *field.Path) field.ErrorList {
	if spec == nil || spec.Affinity == nil || spec.Affinity.NodeAffinity == nil {
		return nil
	}
	var errs field.ErrorList
	na := spec.Affinity.NodeAffinity
	naPath := fld.Child("affinity", "nodeAffinity")
	if req := na.RequiredDuringSchedulingIgnoredDuringExecution; req != nil {
		termsPath := naPath.Child("requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
		// Injected copies double the terms; count the user's only.
		users := 0
		for _, t := range req.NodeSelectorTerms {
			if !onlyInjected(t.MatchExpressions) || len(t.MatchFields) > 0 {
				users++
			}
		}
		if users > 2*MaxUserNodeSelectorTerms {
			// The count alone is enough; judging each term of a hostile pod costs time.
			return append(errs, field.TooMany(termsPath, users, MaxUserNodeSelectorTerms))
		}
		if users > MaxUserNodeSelectorTerms && !placedCopies(req.NodeSelectorTerms) {
			errs = append(errs, field.TooMany(termsPath, users, MaxUserNodeSelectorTerms))
		}
		for i, t := range req.NodeSelectorTerms {
			errs = append(errs, validateExpressions(t.MatchExpressions, termsPath.Index(i).Child("matchExpressions"))...)
		}
	}
	prefPath := naPath.Child("preferredDuringSchedulingIgnoredDuringExecution")
	if n := len(na.PreferredDuringSchedulingIgnoredDuringExecution); n > 2*MaxUserPreferredTerms {
		return append(errs, field.TooMany(prefPath, n, MaxUserPreferredTerms))
	}
	users := 0
	for i, p := range na.PreferredDuringSchedulingIgnoredDuringExecution {
		exprs := p.Preference.MatchExpressions
		if !injectedPreferenceShape(exprs) {
			users++
			errs = append(errs, validateExpressions(exprs, prefPath.Index(i).Child("preference", "matchExpressions"))...)
		}
	}
	if users > MaxUserPreferredTerms {
		errs = append(errs, field.TooMany(prefPath, users, MaxUserPreferredTerms))
	}
	return errs
}

// validateExpressions refuses the reserved key outside an injected shape and too many
// expressions in one term.
func validateExpressions(exprs []corev1.NodeSelectorRequirement, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	own := 0
	for i, e := range exprs {
		switch {
		case e.Key != InjectedKey:
			if i+1 < len(exprs) && isMarker(exprs[i+1]) && injectable(e) {
				continue // ours: the injected expression the marker follows
			}
			own++
		case isMarker(e) && i > 0 && injectable(exprs[i-1]):
		case isNoEligible(e):
		default:
			errs = append(errs, field.Invalid(fld.Index(i).Child("key"), e.Key,
				fmt.Sprintf("%s is reserved for the placement xr-webhook injects; use a label of your own", InjectedKey)))
		}
	}
	if own > MaxUserTermExpressions {
		errs = append(errs, field.TooMany(fld, own, MaxUserTermExpressions))
	}
	return errs
}

// placedCopies says whether terms are an earlier placement's cross-product (each user
// term followed by its copies), which may hold twice the limit.
func placedCopies(terms []corev1.NodeSelectorTerm) bool {
	for _, t := range terms {
		if !anyInjected([]corev1.NodeSelectorTerm{t}) {
			return false
		}
	}
	return true
}

func isMarker(e corev1.NodeSelectorRequirement) bool {
	return e.Key == InjectedKey && e.Operator == corev1.NodeSelectorOpDoesNotExist && len(e.Values) == 0
}

func isNoEligible(e corev1.NodeSelectorRequirement) bool {
	return e.Key == InjectedKey && e.Operator == corev1.NodeSelectorOpIn && len(e.Values) == 1 && e.Values[0] == NoEligibleValue
}

// injectable says whether e has the shape of an expression Apply puts before a marker:
// local (liqo.io/type NotIn [virtual-node]) or remote (liqo.io/remote-cluster-id In ids).
func injectable(e corev1.NodeSelectorRequirement) bool {
	switch e.Key {
	case LiqoTypeLabel:
		return e.Operator == corev1.NodeSelectorOpNotIn && len(e.Values) == 1 && e.Values[0] == LiqoTypeVirtualNode
	case LiqoRemoteClusterIDLabel:
		return e.Operator == corev1.NodeSelectorOpIn && len(e.Values) > 0
	}
	return false
}

// onlyInjected says whether a term holds nothing but injected expressions.
func onlyInjected(exprs []corev1.NodeSelectorRequirement) bool {
	if len(exprs) == 0 {
		return false
	}
	for i, e := range exprs {
		switch {
		case isMarker(e) && i > 0 && injectable(exprs[i-1]), isNoEligible(e):
		case i+1 < len(exprs) && isMarker(exprs[i+1]) && injectable(e):
		default:
			return false
		}
	}
	return true
}

// injectedPreferenceShape says whether a preference is exactly one Apply adds.
func injectedPreferenceShape(exprs []corev1.NodeSelectorRequirement) bool {
	return len(exprs) == 2 && injectable(exprs[0]) && isMarker(exprs[1])
}
