package plugin_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	outputv1 "github.com/kubexr/kubectl-xr/api/output/v1alpha1"
)

func TestDoctorReportsEachCheckAndFailsWithoutTheWebhook(t *testing.T) {
	out, errOut, err := kubectlXR(t, "doctor")
	if err == nil || strings.TrimSpace(errOut) != "error: some checks failed (see above)" {
		t.Errorf("doctor: err=%v stderr=%q; want it to fail with one line", err, errOut)
	}
	for _, want := range []string{
		// The test bed runs Liqo as processes: no Deployment carries its version.
		"[warn] Liqo: installed, cluster id consumer; version unknown: ",
		"[ok] LatencyClasses: 5 defined",
		"[fail] xr-webhook: not installed (kubectl xr install)",
		"peer cloud-geneva:",
	} {
		if !containsText(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
}

// liqoctl's --liqo-namespace/-l: doctor looks for Liqo where it is told.
func TestDoctorLooksForLiqoInTheLiqoNamespace(t *testing.T) {
	for _, args := range [][]string{{"doctor", "-l", "elsewhere"}, {"doctor", "--liqo-namespace=elsewhere"}} {
		out, _, err := kubectlXR(t, args...)
		if err == nil || !containsText(out, `[fail] Liqo: not installed in namespace "elsewhere"`) {
			t.Errorf("%s: err=%v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out, _, _ := kubectlXR(t, "doctor", "-l", "liqo"); !strings.Contains(out, "Liqo: installed, cluster id consumer") {
		t.Errorf("doctor -l liqo:\n%s", out)
	}
}

// doctor reads Liqo's version as liqoctl version does (the controller-manager
// Deployment's image tag) and says when it is outside the supported v1.2.x; -o json is a
// DoctorReport whose healthy matches the exit status.
func TestDoctorNamesTheLiqoVersionAndPrintsAReport(t *testing.T) {
	ctx := context.Background()
	// STAND-IN: Liqo runs as processes in the test bed; this Deployment, with no
	// replicas, only carries the labels and image Liqo's chart gives its controller-manager.
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "liqo-controller-manager", Namespace: "liqo",
		Labels: map[string]string{"app.kubernetes.io/name": "controller-manager", "app.kubernetes.io/component": "controller-manager"}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "liqo-cm"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "liqo-cm"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "controller-manager", Image: "ghcr.io/liqotech/liqo-controller-manager:v1.2.0"}}}}}}
	if err := env.c.Client.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.c.Client.Delete(ctx, dep) })
	if out, _, _ := kubectlXR(t, "doctor"); !containsText(out, "[ok] Liqo: installed, cluster id consumer, version v1.2.0\n") {
		t.Errorf("doctor with Liqo v1.2.0:\n%s", out)
	}

	out, errOut, err := kubectlXR(t, "doctor", "-o", "json")
	var report outputv1.DoctorReport
	if jerr := json.Unmarshal([]byte(out), &report); jerr != nil || report.Kind != "DoctorReport" || report.APIVersion != "kubexr.io/v1alpha1" {
		t.Fatalf("doctor -o json is not a DoctorReport (%v):\n%s", jerr, out)
	}
	if report.LiqoVersion != "v1.2.0" || report.Healthy || err == nil || errOut != "error: some checks failed (see above)\n" ||
		!slices.Contains(report.Checks, outputv1.DoctorCheck{Check: "xr-webhook", Status: outputv1.CheckFail, Message: "not installed", Fix: "kubectl xr install"}) {
		t.Errorf("doctor -o json: err=%v stderr=%q report=%+v", err, errOut, report)
	}

	patch := client.MergeFrom(dep.DeepCopy())
	dep.Spec.Template.Spec.Containers[0].Image = "ghcr.io/liqotech/liqo-controller-manager:v1.3.1"
	if err := env.c.Client.Patch(ctx, dep, patch); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := kubectlXR(t, "doctor"); !containsText(out,
		"[warn] Liqo: installed, cluster id consumer, version v1.3.1 is outside the supported range (kubectl-xr supports Liqo v1.2.x: upgrade or downgrade Liqo)\n") {
		t.Errorf("doctor with Liqo v1.3.1:\n%s", out)
	}
	oneLineError(t, `unknown output format "wide": use json or yaml (or nothing, for lines)`, "doctor", "-o", "wide")
}

func TestShellCompletion(t *testing.T) {
	cases := map[string]struct {
		args []string
		want []string
	}{
		"commands":         {[]string{"__complete", ""}, []string{"peer", "offload", "classes", "hint", "explain", "install", "doctor"}},
		"hint kinds":       {[]string{"__complete", "hint", ""}, []string{"deployment/", "namespace/", "cronjob/"}},
		"namespace names":  {[]string{"__complete", "hint", "namespace/"}, []string{"namespace/kube-system", "namespace/liqo"}},
		"class flag":       {[]string{"__complete", "hint", "ns/x", "--class", ""}, []string{"ultra-low", "low", "best-effort"}},
		"offload strategy": {[]string{"__complete", "offload", "x", "--strategy", ""}, []string{"LocalAndRemote", "Remote", "Local"}},
		"flags":            {[]string{"__complete", "peer", "add", "--capi"}, []string{"--capi-cluster", "--capi-selector"}},
		"-n":               {[]string{"__complete", "classes", "-n", ""}, []string{"kube-system", "liqo", "default"}},
		"--liqo-namespace": {[]string{"__complete", "doctor", "--liqo-namespace", ""}, []string{"liqo"}},
		"--context":        {[]string{"__complete", "explain", "--context", ""}, []string{"consumer"}},
		"output formats":   {[]string{"__complete", "peer", "list", "-o", ""}, []string{"jsonpath", "custom-columns", "wide"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out := mustXR(t, tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w+"\n") && !strings.Contains(out, w+"\t") {
					t.Errorf("completion of %v lacks %q:\n%s", tc.args, w, out)
				}
			}
		})
	}
}
