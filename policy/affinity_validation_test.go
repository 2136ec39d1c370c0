package policy

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidateNodeAffinity(t *testing.T) {
	inv := inventory(makeCluster("edge").rtt(5e6).obj())
	decision := inv.Decide(Request{Hint: classHint("low"), Classes: MustDefaultClassSet(), Offloading: offloadedToAll(inv), Now: t0})
	zone := req("topology.kubernetes.io/zone", corev1.NodeSelectorOpIn, "a")
	withTerms := func(terms ...corev1.NodeSelectorTerm) *corev1.PodSpec {
		return &corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}}
	}
	term := func(exprs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: exprs}
	}
	many := func(n int) *corev1.PodSpec {
		terms := make([]corev1.NodeSelectorTerm, n)
		for i := range terms {
			terms[i] = term(req("zone", corev1.NodeSelectorOpIn, fmt.Sprint(i)))
		}
		return withTerms(terms...)
	}
	placed := func(spec *corev1.PodSpec) *corev1.PodSpec { decision.Apply(spec); return spec }
	terms := field.NewPath("spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
	reserved := "kubexr.io/injected is reserved for the placement xr-webhook injects; use a label of your own"

	cases := map[string]struct {
		spec *corev1.PodSpec
		want field.ErrorList
	}{
		"no affinity":            {spec: &corev1.PodSpec{}},
		"a user term":            {spec: withTerms(term(zone))},
		"an earlier placement":   {spec: placed(withTerms(term(zone)))},
		"100 terms, placed once": {spec: placed(many(MaxUserNodeSelectorTerms))},
		"the reserved key in a user's own expression": {
			spec: withTerms(term(zone, req(InjectedKey, corev1.NodeSelectorOpExists))),
			want: field.ErrorList{field.Invalid(terms.Index(0).Child("matchExpressions").Index(1).Child("key"), InjectedKey, reserved)},
		},
		"the reserved key with a value of its own": {
			spec: withTerms(term(req(InjectedKey, corev1.NodeSelectorOpIn, "yes"))),
			want: field.ErrorList{field.Invalid(terms.Index(0).Child("matchExpressions").Index(0).Child("key"), InjectedKey, reserved)},
		},
		"a marker after a user expression": {
			spec: withTerms(term(zone, marker)),
			want: field.ErrorList{field.Invalid(terms.Index(0).Child("matchExpressions").Index(1).Child("key"), InjectedKey, reserved)},
		},
		"too many terms": {
			spec: many(MaxUserNodeSelectorTerms + 1),
			want: field.ErrorList{field.TooMany(terms, MaxUserNodeSelectorTerms+1, MaxUserNodeSelectorTerms)},
		},
		"5000 terms are refused by their count": {
			spec: many(5000),
			want: field.ErrorList{field.TooMany(terms, 5000, MaxUserNodeSelectorTerms)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := ValidateNodeAffinity(tc.spec, field.NewPath("spec"))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// A user expression on the reserved key that is not of an injected shape is never
// stripped by Apply (the webhook refuses such pods; explain still must not lose it).
func TestApplyNeverDropsAUserExpression(t *testing.T) {
	inv := inventory(makeCluster("edge").rtt(5e6).obj())
	d := inv.Decide(Request{Hint: classHint("low"), Classes: MustDefaultClassSet(), Offloading: offloadedToAll(inv), Now: t0})
	own := req(InjectedKey, corev1.NodeSelectorOpExists)
	zone := req("topology.kubernetes.io/zone", corev1.NodeSelectorOpIn, "a")
	spec := corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchExpressions: []corev1.NodeSelectorRequirement{zone, own}}}}}}}
	d.Apply(&spec)
	d.Apply(&spec)
	for i, term := range spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(term.MatchExpressions) < 2 || !cmp.Equal(term.MatchExpressions[:2], []corev1.NodeSelectorRequirement{zone, own}) {
			t.Errorf("term %d lost the user's expressions: %v", i, term.MatchExpressions)
		}
	}
}
