package webhook_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/policy"
)

func TestMalformedHintsAreRejectedAtApplyTime(t *testing.T) {
	xrNamespace(t, "t4", nil)
	known := "(known: best-effort, interactive, low, moderate, ultra-low)"
	cronjob := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "t4"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{policy.AnnotationPlacement: "edge"}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "c", Image: "xr/analytics"}}},
			}},
		}},
	}
	cases := map[string]struct {
		obj  client.Object
		want string
	}{
		"deployment with an unknown class": {
			obj:  deployment("t4", "render", 1, map[string]string{policy.AnnotationLatencyClass: "fast"}, nil),
			want: `metadata.annotations: kubexr.io/latency-class: "fast" is not a known LatencyClass ` + known,
		},
		"pod template with a max-rtt that is not a duration": {
			obj:  deployment("t4", "stream", 1, nil, map[string]string{policy.AnnotationMaxRTT: "soon"}),
			want: `spec.template.metadata.annotations: kubexr.io/max-rtt: "soon" is not a duration (use e.g. "15ms")`,
		},
		"deployment with an unknown move policy": {
			obj:  deployment("t4", "mover", 1, map[string]string{policy.AnnotationMove: "always"}, nil),
			want: `metadata.annotations: kubexr.io/move: "always" is not a move policy (use auto or never)`,
		},
		"pod template with a move delay over a day": {
			obj:  deployment("t4", "slow", 1, nil, map[string]string{policy.AnnotationMoveAfter: "48h"}),
			want: `spec.template.metadata.annotations: kubexr.io/move-after: "48h" is longer than 24h (use kubexr.io/move: never to keep pods where they run)`,
		},
		"cronjob's job template with an unknown placement": {
			obj:  cronjob,
			want: `spec.jobTemplate.spec.template.metadata.annotations: kubexr.io/placement: "edge" is not a placement (use any, local or remote)`,
		},
		// Pods meet the mutating webhook first, which refuses to place them with the
		// same message, naming the source.
		"pod with a zero max-rtt": {
			obj:  barePod("t4", "zero", map[string]string{policy.AnnotationMaxRTT: "0ms"}),
			want: `pod/zero: kubexr.io/max-rtt: "0ms" must be greater than zero (use e.g. "15ms")`,
		},
		"namespace default with an unknown class": {
			obj:  &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "t4-bad", Annotations: map[string]string{policy.AnnotationLatencyClass: "low-ish"}}},
			want: `metadata.annotations: kubexr.io/latency-class: "low-ish" is not a known LatencyClass ` + known,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := env.c.Client.Create(context.Background(), tc.obj)
			if err == nil {
				t.Fatalf("created %s; want it rejected with %q", tc.obj.GetName(), tc.want)
			}
			if !strings.Contains(err.Error(), "denied the request: "+tc.want) {
				t.Errorf("error:\n%v\nwant it to end with:\n%s", err, tc.want)
			}
		})
	}

	// The same through the real kubectl, as a user meets it.
	manifest := filepath.Join(t.TempDir(), "render.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: render
  namespace: t4
  annotations:
    kubexr.io/latency-class: fast
spec:
  selector: {matchLabels: {app: render}}
  template:
    metadata: {labels: {app: render}}
    spec: {containers: [{name: render, image: xr/render}]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(env.sb.Binary("kubectl"), "--kubeconfig", env.c.KubeconfigPath, "apply", "-f", manifest).CombinedOutput()
	want := `admission webhook "hints.kubexr.io" denied the request: metadata.annotations: kubexr.io/latency-class: "fast" is not a known LatencyClass ` + known
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("kubectl apply: err=%v, output:\n%s\nwant the output to contain:\n%s", err, out, want)
	}

	// Updates of objects with valid hints pass.
	dep := deployment("t4", "keep", 1, map[string]string{policy.AnnotationLatencyClass: "low"}, nil)
	create(t, dep)
	patch := client.MergeFrom(dep.DeepCopy())
	dep.Spec.Replicas = new(int32)
	if err := env.c.Client.Patch(context.Background(), dep, patch); err != nil {
		t.Errorf("scaling a deployment with a valid hint: %v", err)
	}

	// A class deleted after a workload named it does not block unrelated updates, but a
	// changed hint is judged against the classes that exist now.
	ctx := context.Background()
	temp := &xrv1.LatencyClass{ObjectMeta: metav1.ObjectMeta{Name: "t4-temp"}, Spec: xrv1.LatencyClassSpec{MaxRTT: "30ms"}}
	create(t, temp)
	dep = deployment("t4", "uses-temp", 1, map[string]string{policy.AnnotationLatencyClass: "t4-temp"}, nil)
	eventually(t, "a deployment naming the new class to be admitted", func() (bool, string) {
		err := env.c.Client.Create(ctx, dep.DeepCopy())
		return err == nil, fmt.Sprint(err)
	})
	if err := env.c.Client.Delete(ctx, temp); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted class to be refused", func() (bool, string) {
		// A server-side dry run: nothing persists, so no ReplicaSet keeps creating pods
		// that name the deleted class (they would be admissions other tests count).
		err := env.c.Client.Create(ctx, deployment("t4", "late", 1, map[string]string{policy.AnnotationLatencyClass: "t4-temp"}, nil), client.DryRunAll)
		return err != nil, "still admitted"
	})
	scale := &appsv1.Deployment{}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Namespace: "t4", Name: "uses-temp"}, scale); err != nil {
		t.Fatal(err)
	}
	patch = client.MergeFrom(scale.DeepCopy())
	scale.Spec.Replicas = new(int32)
	if err := env.c.Client.Patch(ctx, scale, patch); err != nil {
		t.Errorf("scaling a deployment whose class was deleted since: %v", err)
	}
	patch = client.MergeFrom(scale.DeepCopy())
	scale.Annotations[policy.AnnotationMaxRTT] = "15ms"
	scale.Annotations[policy.AnnotationLatencyClass] = "t4-gone"
	if err := env.c.Client.Patch(ctx, scale, patch); err == nil || !strings.Contains(err.Error(), `"t4-gone" is not a known LatencyClass`) {
		t.Errorf("changing the hint to an unknown class: err=%v, want it refused", err)
	}
}

// admissions is the number of pod admissions xr-webhook served (kubexr_pod_admissions_total).
func admissions(t *testing.T) float64 {
	t.Helper()
	families, err := env.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "kubexr_pod_admissions_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

func TestPodsOutsideTheScopeAreNeverSentToTheWebhook(t *testing.T) {
	ctx := context.Background()
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "t5-plain"}})
	// kube-system is excluded even when someone labels it.
	ks := &corev1.Namespace{}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Name: "kube-system"}, ks); err != nil {
		t.Fatal(err)
	}
	if ks.Labels == nil {
		ks.Labels = map[string]string{}
	}
	ks.Labels[policy.LabelEnabled] = "true"
	if err := env.c.Client.Update(ctx, ks); err != nil {
		t.Fatal(err)
	}

	before := admissions(t)
	create(t, barePod("t5-plain", "unhinted", nil))
	create(t, barePod("kube-system", "system", map[string]string{policy.AnnotationLatencyClass: "low"}))
	if after := admissions(t); after != before {
		t.Errorf("xr-webhook saw %v requests for pods outside its scope, want 0", after-before)
	}
	if pod := getPod(t, "kube-system", "system"); pod.Annotations[policy.AnnotationDecision] != "" || pod.Spec.Affinity != nil {
		t.Errorf("kube-system pod was mutated: %+v", pod.Spec.Affinity)
	}

	// Control: the same pod in an opted-in namespace is sent (and counted).
	xrNamespace(t, "t5-xr", nil)
	create(t, barePod("t5-xr", "unhinted", nil))
	if after := admissions(t); after != before+1 {
		t.Errorf("admissions went from %v to %v for one pod in an opted-in namespace, want +1", before, after)
	}
	if pod := getPod(t, "t5-xr", "unhinted"); pod.Annotations[policy.AnnotationDecision] != "" {
		t.Errorf("unhinted pod got a decision: %s", pod.Annotations[policy.AnnotationDecision])
	}
}
