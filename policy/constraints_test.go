package policy

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func req(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func requiredOf(spec corev1.PodSpec) []corev1.NodeSelectorTerm {
	return spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
}

func TestApplyOnAPodWithoutAffinity(t *testing.T) {
	d := Decision{Local: true, Remote: []Candidate{{ID: "edge-athens", RTT: 4 * ms, HasRTT: true, Tier: 0},
		{ID: "edge-frankfurt", RTT: 14 * ms, HasRTT: true, Tier: 1}}}
	spec := corev1.PodSpec{}
	d.Apply(&spec)
	wantRequired := []corev1.NodeSelectorTerm{
		{MatchExpressions: []corev1.NodeSelectorRequirement{req(LiqoTypeLabel, corev1.NodeSelectorOpNotIn, LiqoTypeVirtualNode), marker}},
		{MatchExpressions: []corev1.NodeSelectorRequirement{req(LiqoRemoteClusterIDLabel, corev1.NodeSelectorOpIn, "edge-athens", "edge-frankfurt"), marker}},
	}
	if diff := cmp.Diff(wantRequired, requiredOf(spec)); diff != "" {
		t.Errorf("required terms (-want +got):\n%s", diff)
	}
	wantPreferred := []corev1.PreferredSchedulingTerm{
		{Weight: 100, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req(LiqoTypeLabel, corev1.NodeSelectorOpNotIn, LiqoTypeVirtualNode), marker}}},
		{Weight: 90, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req(LiqoRemoteClusterIDLabel, corev1.NodeSelectorOpIn, "edge-athens"), marker}}},
		{Weight: 10, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req(LiqoRemoteClusterIDLabel, corev1.NodeSelectorOpIn, "edge-frankfurt"), marker}}},
	}
	if diff := cmp.Diff(wantPreferred, spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution); diff != "" {
		t.Errorf("preferred terms (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.Toleration{LiqoToleration()}, spec.Tolerations); diff != "" {
		t.Errorf("tolerations (-want +got):\n%s", diff)
	}
}

func TestApplyNothingEligibleKeepsThePodPending(t *testing.T) {
	spec := corev1.PodSpec{}
	Decision{}.Apply(&spec)
	want := []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req(InjectedKey, corev1.NodeSelectorOpIn, NoEligibleValue)}}}
	if diff := cmp.Diff(want, requiredOf(spec)); diff != "" {
		t.Errorf("required terms (-want +got):\n%s", diff)
	}
	if len(spec.Tolerations) != 0 {
		t.Errorf("toleration added with no remote cluster eligible: %v", spec.Tolerations)
	}
}

func TestApplyKeepsUserTermsFieldsAndPreferences(t *testing.T) {
	zone := req("topology.kubernetes.io/zone", corev1.NodeSelectorOpIn, "eu")
	gpu := req("gpu", corev1.NodeSelectorOpExists)
	byName := corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"bad-node"}}
	userPref := corev1.PreferredSchedulingTerm{Weight: 7, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{gpu}}}
	userTerms := []corev1.NodeSelectorTerm{
		{MatchExpressions: []corev1.NodeSelectorRequirement{zone}, MatchFields: []corev1.NodeSelectorRequirement{byName}},
		{MatchExpressions: []corev1.NodeSelectorRequirement{gpu}},
	}
	spec := corev1.PodSpec{
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution:  &corev1.NodeSelector{NodeSelectorTerms: userTerms},
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{userPref},
		}},
		Tolerations: []corev1.Toleration{LiqoToleration()},
	}
	original := spec.DeepCopy()
	d := Decision{Local: true, Remote: []Candidate{{ID: "edge-athens", RTT: 4 * ms, HasRTT: true}}}
	d.Apply(&spec)

	remote := req(LiqoRemoteClusterIDLabel, corev1.NodeSelectorOpIn, "edge-athens")
	local := req(LiqoTypeLabel, corev1.NodeSelectorOpNotIn, LiqoTypeVirtualNode)
	want := []corev1.NodeSelectorTerm{
		{MatchExpressions: []corev1.NodeSelectorRequirement{zone, local, marker}, MatchFields: []corev1.NodeSelectorRequirement{byName}},
		{MatchExpressions: []corev1.NodeSelectorRequirement{zone, remote, marker}, MatchFields: []corev1.NodeSelectorRequirement{byName}},
		{MatchExpressions: []corev1.NodeSelectorRequirement{gpu, local, marker}},
		{MatchExpressions: []corev1.NodeSelectorRequirement{gpu, remote, marker}},
	}
	if diff := cmp.Diff(want, requiredOf(spec)); diff != "" {
		t.Errorf("required terms (-want +got):\n%s", diff)
	}
	if got := spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0]; !reflect.DeepEqual(got, userPref) {
		t.Errorf("user preference not kept first: %v", got)
	}
	if len(spec.Tolerations) != 1 {
		t.Errorf("toleration duplicated: %v", spec.Tolerations)
	}
	if !reflect.DeepEqual(original.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms, userTerms) {
		t.Errorf("Apply wrote through to the caller's original terms")
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	decisions := map[string]Decision{
		"local and remote": {Local: true, Remote: []Candidate{{ID: "a", Tier: 0}, {ID: "b", Tier: 2}}},
		"remote only":      {Remote: []Candidate{{ID: "a"}}},
		"local only":       {Local: true},
		"nothing":          {},
	}
	pods := map[string]corev1.PodSpec{
		"bare": {},
		"with user terms": {Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
				{MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "eu")}},
				{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}}},
			}}}}},
	}
	for dn, d := range decisions {
		for pn, pod := range pods {
			t.Run(dn+"/"+pn, func(t *testing.T) {
				once := *pod.DeepCopy()
				d.Apply(&once)
				twice := *once.DeepCopy()
				d.Apply(&twice)
				if diff := cmp.Diff(once, twice); diff != "" {
					t.Errorf("second Apply changed the pod (-once +twice):\n%s", diff)
				}
			})
		}
	}
}

// A new decision replaces the old one: reinvocation after the inventory changed.
func TestApplyReplacesAnEarlierDecision(t *testing.T) {
	spec := corev1.PodSpec{}
	Decision{Local: true, Remote: []Candidate{{ID: "old"}}}.Apply(&spec)
	Decision{Remote: []Candidate{{ID: "new"}}}.Apply(&spec)
	want := []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req(LiqoRemoteClusterIDLabel, corev1.NodeSelectorOpIn, "new"), marker}}}
	if diff := cmp.Diff(want, requiredOf(spec)); diff != "" {
		t.Errorf("required terms (-want +got):\n%s", diff)
	}
}
