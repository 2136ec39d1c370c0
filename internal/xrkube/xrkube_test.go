package xrkube

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/policy"
)

func controlledBy(kind, apiVersion, name string) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: "u-" + types.UID(name), Controller: ptr.To(true)}}
}

func TestHintSources(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "xr", Annotations: map[string]string{policy.AnnotationLatencyClass: "interactive"}}}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "stream", Namespace: "xr", Annotations: map[string]string{policy.AnnotationLatencyClass: "low"}}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "stream-5d9", Namespace: "xr",
		Annotations: map[string]string{policy.AnnotationLatencyClass: "low"}, OwnerReferences: controlledBy("Deployment", "apps/v1", "stream")}}
	standalone := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "solo", Namespace: "xr",
		Annotations: map[string]string{policy.AnnotationMaxRTT: "30ms"}}}
	cache := fake.NewClientBuilder().WithScheme(scheme).WithObjects(ns, dep, standalone).Build()
	// The API server already has the ReplicaSet the cache has not seen yet.
	live := fake.NewClientBuilder().WithScheme(scheme).WithObjects(ns, dep, rs, standalone).Build()

	cases := map[string]struct {
		reader MetadataReader
		pod    metav1.ObjectMeta
		want   []string
		// workload is the outermost controller read ("" for none).
		workload string
	}{
		"deployment's pod: the deployment is named, not its replicaset": {
			reader: MetadataReader{Reader: cache, Fallback: live},
			pod:    metav1.ObjectMeta{GenerateName: "stream-5d9-", OwnerReferences: controlledBy("ReplicaSet", "apps/v1", "stream-5d9")},
			want:   []string{"pod/stream-5d9-", "deployment/stream", "namespace/xr"}, workload: "stream",
		},
		"replicaset without a deployment is a source itself": {
			reader: MetadataReader{Reader: cache},
			pod:    metav1.ObjectMeta{Name: "solo-x", OwnerReferences: controlledBy("ReplicaSet", "apps/v1", "solo")},
			want:   []string{"pod/solo-x", "replicaset/solo", "namespace/xr"}, workload: "solo",
		},
		"an owner gone ends the walk": {
			reader: MetadataReader{Reader: cache},
			pod:    metav1.ObjectMeta{Name: "orphan", OwnerReferences: controlledBy("ReplicaSet", "apps/v1", "stream-5d9")},
			want:   []string{"pod/orphan", "namespace/xr"},
		},
		"an owner of another kind is not followed": {
			reader: MetadataReader{Reader: cache},
			pod:    metav1.ObjectMeta{Name: "custom", OwnerReferences: controlledBy("Workflow", "argoproj.io/v1alpha1", "w")},
			want:   []string{"pod/custom", "namespace/xr"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := HintSources(context.Background(), tc.reader, &tc.pod, "xr")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range got.Hints {
				names = append(names, s.Source.String())
			}
			if diff := cmp.Diff(tc.want, names); diff != "" {
				t.Errorf("sources (-want +got):\n%s", diff)
			}
			workload := ""
			if w := got.Workload(); w != nil {
				workload = w.Name
			}
			if workload != tc.workload {
				t.Errorf("workload = %q, want %q", workload, tc.workload)
			}
		})
	}
}

func TestClassSet(t *testing.T) {
	set, err := ClassSet(nil)
	if err != nil || !cmp.Equal(set.Names(), policy.MustDefaultClassSet().Names()) {
		t.Errorf("no LatencyClass objects: %v, %v; want the compiled-in defaults", set.Names(), err)
	}
	items := []xrv1.LatencyClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Spec: xrv1.LatencyClassSpec{MaxRTT: "5ms"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "broken"}, Spec: xrv1.LatencyClassSpec{MaxRTT: "soon"}},
	}
	set, err = ClassSet(items)
	if err == nil || !strings.Contains(err.Error(), `LatencyClass "broken"`) {
		t.Errorf("malformed class error = %v, want one naming LatencyClass broken", err)
	}
	if !cmp.Equal(set.Names(), []string{"fast"}) {
		t.Errorf("classes = %v, want [fast]: a malformed class is skipped, the others kept", set.Names())
	}
	if m := MalformedClasses(err); len(m) != 1 || m[0].Name != "broken" {
		t.Errorf("MalformedClasses = %v, want [broken]", m)
	}

	// Every class malformed behaves as no class at all: the defaults, and each reported.
	allBad := []xrv1.LatencyClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "zero"}, Spec: xrv1.LatencyClassSpec{MaxRTT: "0ms"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "slow-move"}, Spec: xrv1.LatencyClassSpec{MaxRTT: "5ms", MoveAfter: "48h"}},
	}
	set, err = ClassSet(allBad)
	if !cmp.Equal(set.Names(), policy.MustDefaultClassSet().Names()) {
		t.Errorf("every class malformed: classes %v, want the compiled-in defaults", set.Names())
	}
	if m := MalformedClasses(err); len(m) != 2 || err == nil || !strings.Contains(err.Error(), "using the default classes") {
		t.Errorf("every class malformed: error %v (%d malformed), want both reported and the fallback said", err, len(m))
	}
}

func TestClusterNodes(t *testing.T) {
	vn := func(name, cluster string, ann map[string]string) corev1.Node {
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann, Labels: map[string]string{
			policy.LiqoTypeLabel: policy.LiqoTypeVirtualNode, policy.LiqoRemoteClusterIDLabel: cluster}}}
	}
	nodes := []corev1.Node{
		vn("athens-b", "athens", map[string]string{policy.AnnotationRTTOverride: "4ms"}),
		vn("athens-a", "athens", map[string]string{policy.AnnotationRTTOverride: "6ms"}),
		vn("geneva", "geneva", map[string]string{policy.AnnotationRTTOverride: "fast"}),
		{ObjectMeta: metav1.ObjectMeta{Name: "local-1"}},
	}
	notReady := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse}
	nodes[0].Status.Conditions = []corev1.NodeCondition{notReady}
	nodes[2].Status.Conditions = []corev1.NodeCondition{notReady}
	got, errs := ClusterNodes(nodes)
	if len(got) != 2 {
		t.Fatalf("clusters = %d, want 2 (local nodes are not clusters)", len(got))
	}
	if a := got["athens"]; !cmp.Equal(a.Nodes, []string{"athens-a", "athens-b"}) || a.Override != 6*time.Millisecond {
		t.Errorf("athens = nodes %v override %s; want both nodes and the larger override 6ms", a.Nodes, a.Override)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "node geneva: kubexr.io/rtt-override") {
		t.Errorf("errors = %v, want one naming node geneva", errs)
	}
	if got["athens"].NotReady || !got["geneva"].NotReady {
		t.Errorf("NotReady athens=%v geneva=%v; want a cluster NotReady only when none of its nodes is Ready",
			got["athens"].NotReady, got["geneva"].NotReady)
	}
	if got["geneva"].Override != 0 {
		t.Errorf("a malformed override must be ignored, got %s", got["geneva"].Override)
	}
}
