package webhook_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/webhook"
)

func deployment(ns, name string, replicas int32, meta, template map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: meta},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: template},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "xr/" + name}}},
			},
		},
	}
}

func barePod(ns, name string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "xr/" + name}}},
	}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.c.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

func record(t *testing.T, pod *corev1.Pod) policy.Record {
	t.Helper()
	r, err := policy.ParseRecord(pod.Annotations[policy.AnnotationDecision])
	if err != nil {
		t.Fatalf("pod %s decision annotation: %v", pod.Name, err)
	}
	return r
}

func TestHintedWorkloadsGetConstraintsForEligibleClustersOnly(t *testing.T) {
	athens, frankfurt, geneva := peer(t, "t1-athens", 5*time.Millisecond), peer(t, "t1-frankfurt", 15*time.Millisecond),
		peer(t, "t1-geneva", 38*time.Millisecond)
	waitClass(t, athens, "ultra-low")
	waitClass(t, frankfurt, "low")
	waitClass(t, geneva, "interactive")
	virtual := []string{athens, frankfurt, geneva}
	xrNamespace(t, "t1", nil, "t1-athens", "t1-frankfurt", "t1-geneva")
	xrNamespace(t, "t1-default", map[string]string{policy.AnnotationLatencyClass: "interactive"},
		"t1-athens", "t1-frankfurt", "t1-geneva")

	create(t, deployment("t1", "stream", 2, map[string]string{policy.AnnotationLatencyClass: "low"}, nil))
	create(t, deployment("t1", "pose", 1, map[string]string{policy.AnnotationLatencyClass: "low"},
		map[string]string{policy.AnnotationLatencyClass: "ultra-low"}))
	userAffinity := barePod("t1", "zoned", map[string]string{policy.AnnotationLatencyClass: "low"})
	userAffinity.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"edge"}}},
		}}},
	}}
	create(t, userAffinity)
	create(t, barePod("t1-default", "viewer", nil))

	cases := map[string]struct {
		pod        func() corev1.Pod
		want       []string
		wantSource string
		wantClass  string
	}{
		"deployment class low: local and clusters within 20ms": {
			pod:  func() corev1.Pod { return podsOf(t, "t1", map[string]string{"app": "stream"}, 2)[1] },
			want: []string{"local", athens, frankfurt}, wantSource: "deployment/stream", wantClass: "low",
		},
		"pod template's own hint overrides its deployment's": {
			pod:  func() corev1.Pod { return podsOf(t, "t1", map[string]string{"app": "pose"}, 1)[0] },
			want: []string{"local", athens}, wantSource: "pod/pose-", wantClass: "ultra-low",
		},
		"namespace default applies to an unhinted pod": {
			pod:  func() corev1.Pod { return getPod(t, "t1-default", "viewer") },
			want: []string{"local", athens, frankfurt, geneva}, wantSource: "namespace/t1-default", wantClass: "interactive",
		},
		"user's required affinity is kept (AND)": {
			pod:  func() corev1.Pod { return getPod(t, "t1", "zoned") },
			want: []string{"local"}, wantSource: "pod/zoned", wantClass: "low",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pod := tc.pod()
			if diff := cmp.Diff(tc.want, placement(t, &pod, virtual...)); diff != "" {
				t.Errorf("pod %s may run on (-want +got):\n%s", pod.Name, diff)
			}
			r := record(t, &pod)
			if !strings.HasPrefix(r.Source, tc.wantSource) || r.Class != tc.wantClass {
				t.Errorf("decision record %+v: want class %s from %s", r, tc.wantClass, tc.wantSource)
			}
		})
	}
	// The user's own expression stays in every required term.
	zoned := getPod(t, "t1", "zoned")
	if got := allowedNodes(t, &zoned); !cmp.Equal(got, []string{"local-1"}) {
		t.Errorf("pod with zone=edge affinity may run on %v, want only local-1", got)
	}
	// kubectl describe pod explains the placement.
	waitEvent(t, "t1", "zoned", webhook.ReasonPlaced, "may run on local nodes, t1-athens (5ms), t1-frankfurt (15ms)")
	// A controller's pods share one decision: it is told once, on the controller
	// (kubectl describe replicaset), not on each of its pods.
	stream := podsOf(t, "t1", map[string]string{"app": "stream"}, 2)
	rs := metav1.GetControllerOf(&stream[0])
	waitEvent(t, "t1", rs.Name, webhook.ReasonPlaced, "may run on local nodes, t1-athens (5ms), t1-frankfurt (15ms)")
	var evs corev1.EventList
	if err := env.c.Client.List(context.Background(), &evs, client.InNamespace("t1")); err != nil {
		t.Fatal(err)
	}
	onRS := 0
	for _, e := range evs.Items {
		switch {
		case e.Reason != webhook.ReasonPlaced:
		case e.InvolvedObject.Name == rs.Name:
			onRS++
			if e.Series != nil || e.Count > 1 {
				t.Errorf("the ReplicaSet's placement Event counts repeats: %+v %d", e.Series, e.Count)
			}
		case e.InvolvedObject.Name == stream[0].Name || e.InvolvedObject.Name == stream[1].Name:
			t.Errorf("pod %s of a ReplicaSet got its own placement Event %q", e.InvolvedObject.Name, e.Message)
		}
	}
	if onRS != 1 {
		t.Errorf("ReplicaSet %s has %d placement Events for two pods with one decision; want 1", rs.Name, onRS)
	}
}

func getPod(t *testing.T, ns, name string) corev1.Pod {
	t.Helper()
	var pod corev1.Pod
	if err := env.c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

// waitEvent waits for an Event on the pod with reason whose message contains text, as
// `kubectl describe pod` lists them (core/v1 Events).
func waitEvent(t *testing.T, ns, pod, reason, text string) {
	t.Helper()
	eventually(t, reason+" event on "+pod, func() (bool, string) {
		var evs corev1.EventList
		if err := env.c.Client.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range evs.Items {
			if e.InvolvedObject.Name != pod {
				continue
			}
			if e.Reason == reason && strings.Contains(e.Message, text) {
				return true, ""
			}
			seen = append(seen, e.Reason+": "+e.Message)
		}
		return false, strings.Join(seen, " | ")
	})
}
