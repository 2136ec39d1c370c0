package plugin_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	outputv1 "github.com/kubexr/kubectl-xr/api/output/v1alpha1"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
)

func waitNodeLabel(t *testing.T, node, class string) {
	t.Helper()
	n := &corev1.Node{}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err := env.c.Client.Get(context.Background(), client.ObjectKey{Name: node}, n); err == nil && n.Labels["kubexr.io/latency-class"] == class {
			return
		}
	}
	t.Fatalf("node %s not labelled %s by xr-webhook's observer: %v", node, class, n.Labels)
}

// containsText: out holds want, runs of blanks counted as one (explain's columns are
// as wide as their longest cell; testdata/golden checks the layout itself).
func containsText(out, want string) bool {
	squeeze := func(s string) string { return blankRuns.ReplaceAllString(s, " ") }
	return strings.Contains(squeeze(out), squeeze(want))
}

var blankRuns = regexp.MustCompile(`[ \t]+`)

// explainUntil runs kubectl xr explain args until its output contains want (30 s at most,
// as the observer follows new samples) and returns that output.
func explainUntil(t *testing.T, want string, args ...string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out := mustXR(t, append([]string{"explain"}, args...)...)
		if containsText(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl xr explain %s never showed %q; last output:\n%s", strings.Join(args, " "), want, out)
		}
	}
}

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
	// xr-webhook places the pods (next to Liqo's own pod webhook, both real).
	run, err := xrwebhook.Start(ctx, env.sb, env.c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, cfg := range []client.Object{&admissionregistrationv1.MutatingWebhookConfiguration{}, &admissionregistrationv1.ValidatingWebhookConfiguration{}} {
			cfg.SetName("xr-webhook")
			_ = env.c.Client.Delete(ctx, cfg)
		}
		run.Stop()
		// Leave the shared control plane as found: later tests install xr-webhook and
		// list every offloaded namespace themselves.
		mustXR(t, "offload", "remove", "explain")
		mustXR(t, "uninstall")
		waitGone(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubexr-system"}})
	})
	waitNodeLabel(t, "cloud-geneva", "low")
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
	// A second one only remote: its pod runs on cloud-geneva, to explain a move.
	edge := dep.DeepCopy()
	edge.Name, edge.Annotations, edge.ResourceVersion, edge.UID = "edge", map[string]string{"kubexr.io/placement": "remote"}, "", ""
	edge.Spec.Selector.MatchLabels = map[string]string{"app": "edge"}
	edge.Spec.Template.Labels = map[string]string{"app": "edge"}
	if err := env.c.Client.Create(ctx, edge); err != nil {
		t.Fatal(err)
	}
	var pods corev1.PodList
	deadline := time.Now().Add(time.Minute)
	for {
		_ = env.c.Client.List(ctx, &pods, client.InNamespace("explain"), client.MatchingLabels(labels))
		var edgePods corev1.PodList
		_ = env.c.Client.List(ctx, &edgePods, client.InNamespace("explain"), client.MatchingLabels{"app": "edge"})
		if len(pods.Items) == 1 && pods.Items[0].Status.Phase == corev1.PodRunning &&
			len(edgePods.Items) == 1 && edgePods.Items[0].Status.Phase == corev1.PodRunning && edgePods.Items[0].Spec.NodeName == "cloud-geneva" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream pod not Running: %+v", pods.Items)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if pods.Items[0].Annotations["kubexr.io/decision"] == "" {
		t.Fatalf("the pod was not placed by xr-webhook: %v", pods.Items[0].Annotations)
	}
	podOut := mustXR(t, "explain", "pod/"+pods.Items[0].Name, "-n", "explain")
	for _, want := range []string{"Constraints (injected when the pod was created):", "liqo.io/remote-cluster-id In [cloud-geneva]",
		"cloud-geneva 14ms yes"} {
		if !containsText(podOut, want) {
			t.Errorf("explain pod lacks %q:\n%s", want, podOut)
		}
	}

	out := mustXR(t, "explain", "deploy/stream", "-n", "explain")
	for _, want := range []string{
		"Deployment explain/stream",
		"Class:       low (20ms)    from namespace/explain",
		"Bound:       20ms",
		"cloud-geneva 14ms yes",
		"liqo.io/remote-cluster-id In [cloud-geneva]",
		"toleration: virtual-node.liqo.io/not-allowed Exists NoExecute",
		"Pods:",
		"within bound",
	} {
		if !containsText(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}

	// The same, machine-readable.
	var e outputv1.Explanation
	if err := json.Unmarshal([]byte(mustXR(t, "explain", "deploy/stream", "-n", "explain", "-o", "json")), &e); err != nil {
		t.Fatal(err)
	}
	if e.Kind != "Explanation" || e.Target != (outputv1.ExplainedObject{Kind: "Deployment", Namespace: "explain", Name: "stream"}) ||
		e.Hint == nil || e.Hint.Class != "low" || e.Hint.Bound != "20ms" || e.Hint.BoundSource != "namespace/explain" ||
		!slices.Contains(e.Clusters, outputv1.ClusterVerdict{Cluster: "cloud-geneva", RTT: "14ms", Eligible: true}) ||
		e.Constraints == nil || e.Constraints.State != outputv1.ConstraintsWouldInject ||
		!slices.Contains(e.Constraints.RequiredTerms, "liqo.io/remote-cluster-id In [cloud-geneva]") ||
		len(e.Pods) != 1 || !e.Pods[0].WithinBound || e.Pods[0].Verdict != "within bound" {
		t.Errorf("explain -o json: %+v", e)
	}
	oneLineError(t, `unknown output format "wide": use json or yaml (or nothing, for text)`, "explain", "deploy/stream", "-n", "explain", "-o", "wide")

	// The link degrades: geneva is over the bound.
	if err := env.c.StandInConnection(ctx, "cloud-geneva", networkingv1beta1.Connected, 40*time.Millisecond, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// The observer smooths 14ms then 40ms to 21.8ms (EWMA 0.3): over the 20ms bound.
	explainUntil(t, "cloud-geneva 21.8ms no over the bound 20ms", "deploy/stream", "-n", "explain")
	// 21.8ms is over the bound but within the 10 % move margin: the pod stays.
	if out := mustXR(t, "explain", "deploy/edge", "-n", "explain"); !strings.Contains(out, "over its bound 20ms by less than the move margin: stays") {
		t.Errorf("explain pod line at 21.8ms:\n%s", out)
	}
	// 27.3ms: out of bound. The namespace moves pods (kubectl xr offload --move auto, the
	// default), but geneva is the only measured peer here: explain says why it stays.
	if err := env.c.StandInConnection(ctx, "cloud-geneva", networkingv1beta1.Connected, 40*time.Millisecond, time.Now().Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	out = explainUntil(t, "OUTSIDE ITS BOUND (RTT 27.3ms is over the bound 20ms); will not move: no other cluster qualifies now",
		"deploy/edge", "-n", "explain")
	if !containsText(out, "Move: auto from namespace/explain") || !containsText(out, "Move after: 30s from default") {
		t.Errorf("explain lacks the move hint:\n%s", out)
	}
	// Other workload kinds: a Job's own hint wins over the namespace default.
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "analytics", Namespace: "explain", Annotations: map[string]string{"kubexr.io/latency-class": "best-effort"}},
		Spec: batchv1.JobSpec{Suspend: ptr.To(true), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "xr/analytics"}}}}},
	}
	if err := env.c.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	if out := mustXR(t, "explain", "job/analytics", "-n", "explain"); !containsText(out, "Class: best-effort (unbounded) from job/analytics") ||
		!containsText(out, "Bound: unbounded") {
		t.Errorf("explain job:\n%s", out)
	}
	if err := env.c.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "explain"}}); err != nil {
		t.Fatal(err)
	}
	oneLineError(t, "cannot explain a ConfigMap: use one of pod, deployment, statefulset, daemonset, replicaset, job, cronjob", "explain", "-n", "explain", "configmap/cfg")
}

// explain takes every kind the README lists; each one's own hint is read from where
// that kind keeps it, and a workload's pods are found (a CronJob's through its Jobs).
func TestExplainEveryHintedKind(t *testing.T) {
	ctx := context.Background()
	const ns = "explain-kinds"
	if err := env.c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	hint := map[string]string{"kubexr.io/latency-class": "best-effort"}
	template := func(app string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "xr/" + app}}}}
	}
	selector := func(app string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
	}
	always := func(app string) corev1.PodTemplateSpec {
		tmpl := template(app)
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyAlways
		return tmpl
	}
	cron := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns, Annotations: hint},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", Suspend: ptr.To(true),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template("nightly")}}}}
	objects := map[string]client.Object{
		"pod/solo": &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "solo", Namespace: ns, Annotations: hint},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "xr/solo"}}}},
		"deployment/web": &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Annotations: hint},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: selector("web"), Template: always("web")}},
		"statefulset/db": &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns, Annotations: hint},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), Selector: selector("db"), Template: always("db")}},
		"daemonset/agent": &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns, Annotations: hint},
			Spec: appsv1.DaemonSetSpec{Selector: selector("agent"), Template: always("agent")}},
		"replicaset/rs": &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs", Namespace: ns, Annotations: hint},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: selector("rs"), Template: always("rs")}},
		"job/batch": &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "batch", Namespace: ns, Annotations: hint},
			Spec: batchv1.JobSpec{Template: template("batch")}},
		"cronjob/nightly": cron,
	}
	for _, obj := range objects {
		if err := env.c.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	// The CronJob is suspended; one Job it "ran" stands for its schedule (the
	// controller would start one at 03:00 only).
	run := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "nightly-1", Namespace: ns,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cron.Name, UID: cron.UID, Controller: ptr.To(true)}}},
		Spec: batchv1.JobSpec{Template: template("nightly")}}
	if err := env.c.Client.Create(ctx, run); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{"pod": "Pod", "deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet",
		"replicaset": "ReplicaSet", "job": "Job", "cronjob": "CronJob"}
	for arg := range objects {
		t.Run(arg, func(t *testing.T) {
			kind, name, _ := strings.Cut(arg, "/")
			// A workload's pods appear once its controller made them.
			out := explainUntil(t, "  "+map[bool]string{true: "solo", false: name}[kind == "pod"], arg, "-n", ns)
			if y := mustXR(t, "explain", arg, "-n", ns, "-o", "yaml"); !strings.Contains(y, "kind: Explanation\n") ||
				!strings.Contains(y, "boundSource: "+arg+"\n") {
				t.Errorf("explain %s -o yaml:\n%s", arg, y)
			}
			for _, want := range []string{kinds[kind] + " " + ns + "/" + name,
				"Class:       best-effort (unbounded)    from " + arg, "Bound:       unbounded"} {
				if !containsText(out, want) {
					t.Errorf("explain %s lacks %q:\n%s", arg, want, out)
				}
			}
		})
	}
}
