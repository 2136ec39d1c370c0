package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
)

// xr-webhook, the real binary, started as its Deployment runs it (GOMEMLIMIT set to the
// container's memory limit) against a cluster holding 30 000 pods (3 000 of them placed
// XR pods) and 10 000 ReplicaSets: its caches (placed pods only, slimmed; owners as
// metadata) keep its peak RSS under that limit.
func TestMemoryWith30000PodsAnd10000ReplicaSets(t *testing.T) {
	const pods, replicaSets, clients = 30000, 10000, 32
	sb := sandbox.NewForTest(t)
	c := sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: "scale"})
	ctx := context.Background()

	limit := memoryLimit(t, sb)
	binary := filepath.Join(t.TempDir(), "xr-webhook")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range clients {
		if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("team-%02d", w)}}); err != nil {
			t.Fatal(err)
		}
	}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= pods+replicaSets {
					return
				}
				ns := fmt.Sprintf("team-%02d", i%clients)
				var obj client.Object = scalePod(ns, int(i))
				if i >= pods {
					obj = scaleReplicaSet(ns, int(i))
				}
				if err := c.Client.Create(ctx, obj); err != nil && failed.Add(1) == 1 {
					t.Errorf("create %s: %v", obj.GetName(), err)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d creates failed", failed.Load())
	}
	t.Logf("created %d pods and %d ReplicaSets in %s", pods, replicaSets, time.Since(start).Round(time.Second))

	start = time.Now()
	// As in its Deployment: GOMEMLIMIT is the container's memory limit (resourceFieldRef).
	b, err := xrwebhook.StartBinary(ctx, sb, c, binary, fmt.Sprintf("GOMEMLIMIT=%d", limit))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	ready := time.Since(start)
	time.Sleep(10 * time.Second) // the mover's first pass over every placed pod, resyncs
	rss, err := b.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("xr-webhook ready in %s; peak RSS %.1f MiB with %d pods and %d ReplicaSets (memory limit %.0f MiB)",
		ready.Round(time.Millisecond), float64(rss)/(1<<20), pods, replicaSets, float64(limit)/(1<<20))
	if rss >= limit {
		t.Errorf("peak RSS %d bytes reaches the Deployment's memory limit %d", rss, limit)
	}
}

// scalePod is a pod as a Deployment makes it: labels, a container with ports, env,
// resources and probes — the fields the cache transform must drop. One in ten is an XR
// pod xr-webhook placed: it carries kubexr.io/placed and a record of a decision's size
// (an opaque stand-in, so the mover leaves it alone) and is the only kind it caches.
func scalePod(ns string, i int) *corev1.Pod {
	pod := basePod(ns, i)
	if i%10 == 0 {
		pod.Labels[policy.LabelPlaced] = "true"
		pod.Annotations["example.com/record"] = strings.Repeat("r", 300)
	}
	return pod
}

func basePod(ns string, i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%06d", i), Namespace: ns,
			Labels:      map[string]string{"app": "app", "pod-template-hash": "5d9c7f8b6", "tier": "backend"},
			Annotations: map[string]string{"example.com/revision": "42"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.example/team/app:1.2.3",
			Args:  []string{"--listen=:8080", "--log-level=info", "--cache-size=256"},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}},
			Env: []corev1.EnvVar{{Name: "MODE", Value: "production"}, {Name: "REGION", Value: "eu-central"},
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intOrString(8080)}}},
		}}},
	}
}

func scaleReplicaSet(ns string, i int) *appsv1.ReplicaSet {
	labels := map[string]string{"app": fmt.Sprintf("rs-%06d", i)}
	zero := int32(0)
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("rs-%06d", i), Namespace: ns, Labels: labels},
		Spec: appsv1.ReplicaSetSpec{Replicas: &zero, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: basePod(ns, i).Spec}},
	}
}

// memoryLimit is the xr-webhook container's memory limit in manifests/default.
func memoryLimit(t *testing.T, sb *sandbox.Sandbox) int64 {
	t.Helper()
	objs, err := sb.Kustomize(xrwebhook.ManifestsDir("default"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			if s, ok, _ := unstructured.NestedString(c.(map[string]any), "resources", "limits", "memory"); ok {
				q := resource.MustParse(s)
				return q.Value()
			}
		}
	}
	t.Fatal("no memory limit on xr-webhook's Deployment")
	return 0
}

func intOrString(port int) intstr.IntOrString { return intstr.FromInt32(int32(port)) }
