package plugin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestExplainHintClustersConstraintsAndPods(t *testing.T) {
	ctx := context.Background()
	if err := env.c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "explain"}}); err != nil {
		t.Fatal(err)
	}
	mustXR(t, "offload", "explain", "--class", "low")
	// Liqo's gateway measurement is the stand-in (networking disabled in the test bed).
	if err := env.c.StandInConnection(ctx, "cloud-geneva", networkingv1beta1.Connected, 14*time.Millisecond, time.Now()); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "stream"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "stream", Namespace: "explain"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "xr/stream"}}}}},
	}
	if err := env.c.Client.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var pods corev1.PodList
		_ = env.c.Client.List(ctx, &pods, client.InNamespace("explain"))
		if len(pods.Items) == 1 && pods.Items[0].Status.Phase == corev1.PodRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream pod not Running: %+v", pods.Items)
		}
		time.Sleep(200 * time.Millisecond)
	}

	out := mustXR(t, "explain", "deploy/stream", "-n", "explain")
	for _, want := range []string{
		"Deployment explain/stream",
		"Class:       low (20ms)    from namespace/explain",
		"Bound:       20ms",
		"cloud-geneva         14ms       eligible",
		"liqo.io/remote-cluster-id In [cloud-geneva]",
		"toleration: virtual-node.liqo.io/not-allowed Exists NoExecute",
		"Pods:",
		"within bound",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}

	// The link degrades: geneva is over the bound.
	if err := env.c.StandInConnection(ctx, "cloud-geneva", networkingv1beta1.Connected, 40*time.Millisecond, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	out = mustXR(t, "explain", "deploy/stream", "-n", "explain")
	if !strings.Contains(out, "cloud-geneva         40ms       not eligible: over the bound 20ms") {
		t.Errorf("explain after the rise:\n%s", out)
	}
	if err := env.c.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "explain"}}); err != nil {
		t.Fatal(err)
	}
	oneLineError(t, "cannot explain a ConfigMap: use pod, deployment, statefulset, daemonset or job", "explain", "-n", "explain", "configmap/cfg")
}
