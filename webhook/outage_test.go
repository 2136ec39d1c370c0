package webhook_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
)

// An xr-webhook outage (every replica gone, its webhook configurations in place with
// failurePolicy Fail) blocks only the creation of pods in opted-in namespaces and hint
// changes. Scaling a hinted Deployment down, a hinted Job completing (its pods' tracking
// finalizer removed), relabelling a placed pod and `kubectl xr offload remove` all go on;
// once a replica is back, what waited (a scale-up) recovers without anyone acting.
func TestOutageBlocksOnlyHintedPodCreation(t *testing.T) {
	ctx := context.Background()
	kubectlXR := filepath.Join(t.TempDir(), "kubectl-xr")
	if out, err := exec.Command("go", "build", "-o", kubectlXR, "../cmd/kubectl-xr").CombinedOutput(); err != nil {
		t.Fatalf("go build kubectl-xr: %v\n%s", err, out)
	}
	c := env.sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: "outage", Scheduler: true, Kwok: true,
		Controllers: []string{"deployment", "replicaset", "job"}})
	run, err := xrwebhook.Start(ctx, env.sb, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Stop)
	if _, err := c.AddNode(ctx, "local-1", nil); err != nil {
		t.Fatal(err)
	}
	cl := c.Client
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "xr", Labels: map[string]string{policy.LabelEnabled: "true"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "xr-leaving", Labels: map[string]string{policy.LabelEnabled: "true"},
			Annotations: map[string]string{policy.AnnotationLatencyClass: "low", policy.AnnotationMove: "auto"}}},
	} {
		if err := cl.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	low := map[string]string{policy.AnnotationLatencyClass: "low"}
	dep := deployment("xr", "render", 3, low, nil)
	// kwok completes the Job's pod 20–25 s after it runs: within the outage.
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "analytics", Namespace: "xr", Annotations: low},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
				"pod-complete.stage.kwok.x-k8s.io/delay":        "20s",
				"pod-complete.stage.kwok.x-k8s.io/jitter-delay": "25s",
			}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "c", Image: "xr/analytics"}}},
		}},
	}
	for _, o := range []client.Object{dep, job} {
		if err := cl.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	placedPods := func(selector map[string]string) func() (bool, string) {
		return func() (bool, string) {
			var pods corev1.PodList
			if err := cl.List(ctx, &pods, client.InNamespace("xr"), client.MatchingLabels(selector)); err != nil {
				return false, err.Error()
			}
			n := 0
			for _, p := range pods.Items {
				if p.Status.Phase == corev1.PodRunning && p.Annotations[policy.AnnotationDecision] != "" && p.DeletionTimestamp == nil {
					n++
				}
			}
			return n > 0, fmt.Sprintf("%d placed, running pods", n)
		}
	}
	eventually(t, "the Job's pod to run, placed", placedPods(map[string]string{"job-name": "analytics"}))
	eventually(t, "3 placed render pods", func() (bool, string) {
		var pods corev1.PodList
		_ = cl.List(ctx, &pods, client.InNamespace("xr"), client.MatchingLabels{"app": "render"})
		ok := len(pods.Items) == 3 && !slices.ContainsFunc(pods.Items, func(p corev1.Pod) bool {
			return p.Status.Phase != corev1.PodRunning || p.Annotations[policy.AnnotationDecision] == ""
		})
		return ok, fmt.Sprintf("%d pods", len(pods.Items))
	})

	run.Stop()
	outageStart := time.Now()

	// Creating a hinted pod waits, with an error naming xr-webhook's placement.
	err = cl.Create(ctx, barePod("xr", "during-outage", low))
	if err == nil || !strings.Contains(err.Error(), `failed calling webhook "placement.pods.kubexr.io"`) {
		t.Errorf("creating a hinted pod during the outage: %v; want it refused by the placement webhook's failure", err)
	}
	// Changing a hint waits too: it must be judged.
	bad := dep.DeepCopy()
	if err := cl.Get(ctx, client.ObjectKeyFromObject(dep), bad); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(bad.DeepCopy())
	bad.Annotations[policy.AnnotationLatencyClass] = "interactive"
	if err := cl.Patch(ctx, bad, patch); err == nil || !strings.Contains(err.Error(), `failed calling webhook "hints.kubexr.io"`) {
		t.Errorf("changing a hint during the outage: %v; want it refused by the hint validator's failure", err)
	}

	// Scaling down, relabelling a placed pod, opting a namespace out: all go on.
	scale := func(replicas int32) {
		t.Helper()
		d := dep.DeepCopy()
		if err := cl.Get(ctx, client.ObjectKeyFromObject(dep), d); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(d.DeepCopy())
		d.Spec.Replicas = &replicas
		if err := cl.Patch(ctx, d, patch); err != nil {
			t.Fatalf("scale the hinted Deployment to %d during the outage: %v", replicas, err)
		}
	}
	scale(1)
	eventually(t, "the hinted Deployment to scale down to 1 during the outage", func() (bool, string) {
		var pods corev1.PodList
		_ = cl.List(ctx, &pods, client.InNamespace("xr"), client.MatchingLabels{"app": "render"})
		live := slices.DeleteFunc(pods.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil })
		return len(live) == 1, fmt.Sprintf("%d pods left", len(live))
	})
	var pods corev1.PodList
	if err := cl.List(ctx, &pods, client.InNamespace("xr"), client.MatchingLabels{"app": "render"}); err != nil || len(pods.Items) == 0 {
		t.Fatalf("list render pods: %v", err)
	}
	placed := pods.Items[0].DeepCopy()
	patch = client.MergeFrom(placed.DeepCopy())
	placed.Labels["tier"] = "gold"
	if err := cl.Patch(ctx, placed, patch); err != nil {
		t.Errorf("relabelling a placed pod during the outage: %v", err)
	}
	// The real plugin binary, as a user runs it (in-process, Liqo's spinners race).
	if out, err := exec.Command(kubectlXR, "--kubeconfig", c.KubeconfigPath, "offload", "remove", "xr-leaving").CombinedOutput(); err != nil {
		t.Errorf("kubectl xr offload remove during the outage: %v\n%s", err, out)
	}
	leaving := &corev1.Namespace{}
	if err := cl.Get(ctx, client.ObjectKey{Name: "xr-leaving"}, leaving); err != nil || leaving.Labels[policy.LabelEnabled] != "" {
		t.Errorf("namespace xr-leaving still opted in after offload remove: %v %v", err, leaving.Labels)
	}
	sandbox.Eventually(t, "the hinted Job to complete during the outage", time.Minute, func() (bool, string) {
		j := &batchv1.Job{}
		if err := cl.Get(ctx, client.ObjectKeyFromObject(job), j); err != nil {
			return false, err.Error()
		}
		for _, cond := range j.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
				return true, ""
			}
		}
		return false, fmt.Sprintf("succeeded %d, conditions %v", j.Status.Succeeded, j.Status.Conditions)
	})
	// A scale-up needs new pods: it waits for xr-webhook.
	scale(2)
	t.Logf("outage lasted %s", time.Since(outageStart).Round(time.Second))

	if err := run.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the scale-up that waited to complete once xr-webhook is back", func() (bool, string) {
		var pods corev1.PodList
		_ = cl.List(ctx, &pods, client.InNamespace("xr"), client.MatchingLabels{"app": "render"})
		n := 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && p.Annotations[policy.AnnotationDecision] != "" {
				n++
			}
		}
		return n == 2, fmt.Sprintf("%d of 2 render pods carry a decision", n)
	})
	if err := cl.Create(ctx, barePod("xr", "after-outage", low)); err != nil {
		t.Errorf("creating a hinted pod after the outage: %v", err)
	}
}
