package policy

import (
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	fuzzKeys   = []string{"zone", "gpu", LiqoTypeLabel, LiqoRemoteClusterIDLabel, InjectedKey}
	fuzzValues = []string{"eu", "us", LiqoTypeVirtualNode, "c0", "c1", "c2"}
	fuzzOps    = []corev1.NodeSelectorOperator{corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn,
		corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist}
)

// fuzzPod decodes bytes into a pod with up to 3 required terms of up to 3 expressions
// (sometimes a matchFields on metadata.name) over a small vocabulary, so terms often
// interact with the injected ones.
func fuzzPod(data []byte) *corev1.Pod {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	pod := &corev1.Pod{}
	nTerms := next() % 4
	if nTerms == 0 {
		return pod
	}
	sel := &corev1.NodeSelector{}
	for range nTerms {
		var term corev1.NodeSelectorTerm
		for range 1 + next()%3 {
			op := fuzzOps[next()%len(fuzzOps)]
			r := corev1.NodeSelectorRequirement{Key: fuzzKeys[next()%len(fuzzKeys)], Operator: op}
			if op == corev1.NodeSelectorOpIn || op == corev1.NodeSelectorOpNotIn {
				r.Values = []string{fuzzValues[next()%len(fuzzValues)]}
			}
			term.MatchExpressions = append(term.MatchExpressions, r)
		}
		if next()%4 == 0 {
			term.MatchFields = []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpNotIn, Values: []string{fmt.Sprintf("local-%d", next()%2+1)}}}
		}
		sel.NodeSelectorTerms = append(sel.NodeSelectorTerms, term)
	}
	pod.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: sel}}
	return pod
}

func fuzzDecision(bits byte) Decision {
	d := Decision{Local: bits&1 != 0}
	for i := range 3 {
		if bits&(2<<i) != 0 {
			d.Remote = append(d.Remote, Candidate{ID: fmt.Sprintf("c%d", i), Tier: i})
		}
	}
	return d
}

// FuzzApply checks the merge's properties on arbitrary user affinities, the reserved key
// included: it never panics; the result admits a node only if the user's terms admitted
// it and the decision allows it, and admits every such node; applying twice equals
// applying once. The user's terms are the original's without expressions of exactly an
// injected shape (those are an earlier placement's, decided again); any other use of
// the reserved key is the user's and must survive (the webhook refuses such pods, but
// Apply must still never drop a user's expression).
func FuzzApply(f *testing.F) {
	f.Add([]byte{}, byte(3))
	f.Add([]byte{1, 0, 0, 0, 0}, byte(1))
	f.Add([]byte{2, 1, 2, 2, 0, 3, 2, 1, 3, 0}, byte(14))
	f.Add([]byte{3, 2, 3, 0, 3, 1, 1, 0, 3, 2, 0, 2, 2, 1, 0}, byte(0))
	nodes := testNodes("c0", "c1", "c2")
	nodes = append(nodes, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "local-gpu", Labels: map[string]string{"gpu": "a100"}}})
	f.Fuzz(func(t *testing.T, data []byte, bits byte) {
		original := fuzzPod(data)
		d := fuzzDecision(bits)
		once := original.DeepCopy()
		d.Apply(&once.Spec)
		user := original.DeepCopy()
		if a := user.Spec.Affinity; a != nil {
			req := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
			req.NodeSelectorTerms = stripInjectedTerms(req.NodeSelectorTerms)
			if len(req.NodeSelectorTerms) == 0 {
				a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = nil
			}
		}
		for _, n := range nodes {
			userOK := admits(&corev1.Pod{Spec: corev1.PodSpec{Affinity: user.Spec.Affinity, Tolerations: once.Spec.Tolerations}}, n)
			want := userOK && allowedBy(d, n)
			if got := admits(once, n); got != want {
				t.Fatalf("node %s: merged admits=%v, want %v (user admits %v, decision allows %v)\nuser: %v\nmerged: %v",
					n.Name, got, want, userOK, allowedBy(d, n), original.Spec.Affinity, once.Spec.Affinity)
			}
		}
		twice := once.DeepCopy()
		d.Apply(&twice.Spec)
		if !reflect.DeepEqual(once, twice) {
			t.Fatalf("Apply is not idempotent:\nonce:  %v\ntwice: %v", once.Spec.Affinity, twice.Spec.Affinity)
		}
	})
}
