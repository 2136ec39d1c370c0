package policy

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// benchInventory has n connected, fresh clusters with RTTs spread evenly over 1–100ms,
// so a "low" (20ms) pod is eligible for about a fifth of them.
func benchInventory(n int) *Inventory {
	clusters := make([]Cluster, n)
	for i := range clusters {
		rtt := time.Millisecond + time.Duration(i)*99*time.Millisecond/time.Duration(max(n, 1))
		clusters[i] = makeCluster(fmt.Sprintf("cluster-%05d", i)).rtt(rtt).obj()
	}
	return inventory(clusters...)
}

func benchPod() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "render", Image: "example.invalid/render:1"}}}
}

// BenchmarkDecision is a full decision as the webhook makes it: resolve the hint from
// pod, Deployment and namespace, decide, write the constraints into the pod and encode
// the record.
func BenchmarkDecision(b *testing.B) {
	classes := MustDefaultClassSet()
	sources := []Annotated{
		{Source{Kind: "pod", Name: "render-1"}, map[string]string{"app": "render"}},
		{Source{Kind: "deployment", Name: "render"}, map[string]string{AnnotationLatencyClass: "low"}},
		{Source{Kind: "namespace", Name: "xr"}, map[string]string{AnnotationLatencyClass: "interactive"}},
	}
	for _, n := range []int{10, 100, 1000, 10000} {
		inv := benchInventory(n)
		off := offloadedToAll(inv)
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h, err := Resolve(sources, classes)
				if err != nil {
					b.Fatal(err)
				}
				d := inv.Decide(Request{Hint: h, Classes: classes, Offloading: off, Now: t0})
				spec := benchPod()
				d.Apply(&spec)
				_ = d.RecordJSON()
			}
		})
	}
}

// BenchmarkDecide is the decision alone, without constraints or record.
func BenchmarkDecide(b *testing.B) {
	classes := MustDefaultClassSet()
	h := classHint("low")
	for _, n := range []int{10, 100, 1000, 10000} {
		inv := benchInventory(n)
		off := offloadedToAll(inv)
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = inv.Decide(Request{Hint: h, Classes: classes, Offloading: off, Now: t0})
			}
		})
	}
}

// BenchmarkApplyUserTerms is Apply on a pod that already went through placement once
// (reinvocation: the de-duplication of the cross-product's copies runs) with n user
// terms. Hostile pods can carry thousands; the cost must grow linearly: compare
// terms=5000 with terms=500 (10× the terms, goal ≤ 12× the time).
func BenchmarkApplyUserTerms(b *testing.B) {
	inv := benchInventory(100)
	d := inv.Decide(Request{Hint: classHint("low"), Classes: MustDefaultClassSet(), Offloading: offloadedToAll(inv), Now: t0})
	for _, n := range []int{500, 5000} {
		placed := podWithUserTerms(n)
		d.Apply(&placed)
		b.Run(fmt.Sprintf("terms=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				spec := placed
				d.Apply(&spec)
			}
		})
	}
}

// podWithUserTerms has n distinct required terms of two expressions each.
func podWithUserTerms(n int) corev1.PodSpec {
	terms := make([]corev1.NodeSelectorTerm, n)
	for i := range terms {
		terms[i].MatchExpressions = []corev1.NodeSelectorRequirement{
			{Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{fmt.Sprintf("zone-%d", i)}},
			{Key: "kubernetes.io/arch", Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64"}},
		}
	}
	spec := benchPod()
	spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	return spec
}

// BenchmarkSelectClusters selects with a NamespaceOffloading selector that names every
// cluster (In [id…]), as one that lists its peers does: linear in clusters once the
// selector is compiled once (it was quadratic compiled per node).
func BenchmarkSelectClusters(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		inv := benchInventory(n)
		ids := make([]string, n)
		for i, c := range inv.Clusters() {
			ids[i] = c.ID
		}
		selector := corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: LiqoRemoteClusterIDLabel, Operator: corev1.NodeSelectorOpIn, Values: ids}}}}}
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if set := inv.SelectClusters(selector); !set.Has(n - 1) {
					b.Fatal("the last cluster is not selected")
				}
			}
		})
	}
}
