package plugin_test

import (
	"context"
	"os"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/internal/version"
)

func deployedImage(t *testing.T) string {
	t.Helper()
	dep := &appsv1.Deployment{}
	if err := env.c.Client.Get(context.Background(), client.ObjectKey{Namespace: "kubexr-system", Name: "xr-webhook"}, dep); err != nil {
		t.Fatal(err)
	}
	return dep.Spec.Template.Spec.Containers[0].Image
}

func TestInstallDryRunApplyAndUninstall(t *testing.T) {
	ctx := context.Background()
	out := mustXR(t, "install", "--dry-run", "-o", "yaml", "--image", "registry.example/xr-webhook:v1")
	if n := strings.Count(out, "\n  kind: "); n != 22 {
		t.Errorf("dry-run printed %d objects, want 22", n)
	}
	if !strings.Contains(out, "image: registry.example/xr-webhook:v1") {
		t.Errorf("dry-run does not carry --image:\n%s", out)
	}
	before := &appsv1.Deployment{}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Namespace: "kubexr-system", Name: "xr-webhook"}, before); err == nil &&
		before.Spec.Template.Spec.Containers[0].Image == "registry.example/xr-webhook:v1" {
		t.Fatal("--dry-run touched the cluster")
	}

	t.Cleanup(func() { version.Version = "dev" })
	// A development build names no released image: it needs --image.
	oneLineError(t, `this kubectl-xr is a development build (version "dev") and names no released xr-webhook image: pass --image REF`, "install")
	// A release deploys its own version's image.
	version.Version = "v9.8.7"
	if out := mustXR(t, "install", "--dry-run=client", "-o", "yaml"); !strings.Contains(out, "image: ghcr.io/kubexr/xr-webhook:v9.8.7\n") {
		t.Errorf("a v9.8.7 plugin's install does not deploy ghcr.io/kubexr/xr-webhook:v9.8.7:\n%s", out)
	}
	version.Version = "dev"

	// A server dry run: the API server judges every object it can (the LatencyClasses
	// need the CRD this install would create) and persists none.
	out, errOut, err := kubectlXR(t, "install", "--dry-run=server", "--image", "registry.example/xr-webhook:v1")
	if err != nil || !strings.Contains(errOut, "deployment.apps/xr-webhook not checked: namespace kubexr-system does not exist yet (server dry run)\n") ||
		!strings.Contains(out, "validatingadmissionpolicy.admissionregistration.k8s.io/xr-webhook-node-writes serverside-applied (server dry run)\n") ||
		!strings.Contains(out, "customresourcedefinition.apiextensions.k8s.io/latencyclasses.kubexr.io serverside-applied (server dry run)\n") ||
		strings.Contains(out, "xr-webhook is available") {
		t.Errorf("install --dry-run=server: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	for _, obj := range []client.Object{&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "kubexr-system", Name: "xr-webhook"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubexr-system"}},
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "xr-webhook"}},
		&admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "xr-webhook-node-writes"}}} {
		if err := env.c.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
			t.Errorf("install --dry-run=server left %T %s behind (%v)", obj, obj.GetName(), err)
		}
	}
	if out := mustXR(t, "install", "--dry-run=client", "--image", "registry.example/xr-webhook:v1"); !strings.HasPrefix(out, "namespace/kubexr-system serverside-applied (dry run)\n") {
		t.Errorf("install --dry-run=client:\n%s", out)
	}

	// kwok's pods run nothing, so nothing would ever fill the certificate install waits
	// for: the waiting install is proven on real nodes (test/realnodes). Here everything
	// is applied at once.
	out = mustXR(t, "install", "--image", "registry.example/xr-webhook:v1", "--wait=false")
	for _, want := range []string{"customresourcedefinition.apiextensions.k8s.io/latencyclasses.kubexr.io serverside-applied",
		"deployment.apps/xr-webhook serverside-applied", "mutatingwebhookconfiguration.admissionregistration.k8s.io/xr-webhook serverside-applied"} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q:\n%s", want, out)
		}
	}
	dep := &appsv1.Deployment{}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Namespace: "kubexr-system", Name: "xr-webhook"}, dep); err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != "registry.example/xr-webhook:v1" {
		t.Errorf("image = %s", got)
	}
	managers := map[string]bool{}
	for _, mf := range dep.ManagedFields {
		managers[mf.Manager] = true
	}
	if !managers["kubectl-xr"] {
		t.Errorf("field managers %v, want kubectl-xr", managers)
	}

	// Installing again is a no-op apply, and keeps the image given before.
	if _, errOut, err := kubectlXR(t, "install", "--wait=false"); err != nil ||
		errOut != "keeping xr-webhook's image registry.example/xr-webhook:v1 (--image to change it)\n" {
		t.Errorf("install again: %v, stderr %q", err, errOut)
	}
	if got := deployedImage(t); got != "registry.example/xr-webhook:v1" {
		t.Errorf("install again changed the image to %s", got)
	}
	// A release's image is not kept: installing with a newer plugin upgrades it.
	mustXR(t, "install", "--wait=false", "--image", "ghcr.io/kubexr/xr-webhook:v0.1.0")
	version.Version = "v9.8.7"
	mustXR(t, "install", "--wait=false")
	version.Version = "dev"
	if got := deployedImage(t); got != "ghcr.io/kubexr/xr-webhook:v9.8.7" {
		t.Errorf("a v9.8.7 plugin's install over v0.1.0 deployed %s", got)
	}

	// Uninstall's dry runs delete nothing.
	for _, dry := range []string{"--dry-run=client", "--dry-run=server"} {
		suffix := map[string]string{"--dry-run=client": " (dry run)", "--dry-run=server": " (server dry run)"}[dry]
		if out := mustXR(t, "uninstall", dry); !strings.Contains(out, "deployment.apps/xr-webhook deleted"+suffix+"\n") {
			t.Errorf("uninstall %s:\n%s", dry, out)
		}
		if err := env.c.Client.Get(ctx, client.ObjectKey{Namespace: "kubexr-system", Name: "xr-webhook"}, &appsv1.Deployment{}); err != nil {
			t.Errorf("uninstall %s deleted xr-webhook: %v", dry, err)
		}
	}

	out = mustXR(t, "uninstall")
	if !strings.Contains(out, "mutatingwebhookconfiguration.admissionregistration.k8s.io/xr-webhook deleted") ||
		!strings.Contains(out, "priorityclass.scheduling.k8s.io/xr-webhook-critical deleted") ||
		!strings.Contains(out, "clusterrole.rbac.authorization.k8s.io/xr-webhook-metrics-reader deleted") ||
		!strings.Contains(out, "validatingadmissionpolicy.admissionregistration.k8s.io/xr-webhook-node-writes deleted") ||
		strings.Contains(out, "customresourcedefinition") {
		t.Errorf("uninstall output:\n%s", out)
	}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Name: "xr-webhook"}, &admissionregistrationv1.MutatingWebhookConfiguration{}); !apierrors.IsNotFound(err) {
		t.Errorf("webhook configuration left after uninstall: %v", err)
	}
	oneLineError(t, "-o yaml is only for --dry-run=client or --dry-run=server", "install", "-o", "yaml")
	oneLineError(t, `Invalid dry-run value (maybe). Must be "none", "server", or "client".`, "install", "--dry-run=maybe")
	oneLineError(t, `-o "name" is not supported here: use yaml or json`, "install", "--dry-run=client", "-o", "name")
}

// TestInstallRecordsAnApplySetAndPrunes: install records what it applied as an ApplySet
// (kubectl's format); an object an earlier release applied and this one no longer has is
// pruned by the next install, and removed by uninstall.
func TestInstallRecordsAnApplySetAndPrunes(t *testing.T) {
	ctx := context.Background()
	waitGone(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubexr-system"}}) // an earlier test's uninstall
	mustXR(t, "install", "--wait=false", "--image", "registry.example/xr-webhook:v1")
	t.Cleanup(func() {
		mustXR(t, "uninstall")
		waitGone(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubexr-system"}})
	})
	parent := &corev1.ConfigMap{}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Namespace: "kubexr-system", Name: "xr-webhook-applyset"}, parent); err != nil {
		t.Fatal(err)
	}
	id := parent.Labels["applyset.kubernetes.io/id"]
	gks := parent.Annotations["applyset.kubernetes.io/contains-group-kinds"]
	if !strings.HasPrefix(id, "applyset-") || !strings.HasSuffix(id, "-v1") || parent.Annotations["applyset.kubernetes.io/tooling"] != "kubectl-xr/v1" ||
		!strings.Contains(gks, "Deployment.apps") || !strings.Contains(gks, "MutatingWebhookConfiguration.admissionregistration.k8s.io") || !strings.Contains(gks, "Namespace") {
		t.Fatalf("ApplySet parent: id %q, annotations %v", id, parent.Annotations)
	}
	dep := &appsv1.Deployment{}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Namespace: "kubexr-system", Name: "xr-webhook"}, dep); err != nil || dep.Labels["applyset.kubernetes.io/part-of"] != id {
		t.Fatalf("deployment not a member of %s: %v %v", id, err, dep.Labels)
	}

	// What an older release would have left: a member of a kind this release does not
	// apply at all.
	dropped := func(name string) *corev1.ServiceAccount {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kubexr-system",
			Labels: map[string]string{"applyset.kubernetes.io/part-of": id}}}
		if err := env.c.Client.Create(ctx, sa); err != nil {
			t.Fatal(err)
		}
		return sa
	}
	old := dropped("xr-webhook-old")
	out := mustXR(t, "install", "--wait=false")
	if !strings.Contains(out, "serviceaccount/xr-webhook-old pruned\n") {
		t.Errorf("install did not prune the dropped member:\n%s", out)
	}
	if err := env.c.Client.Get(ctx, client.ObjectKeyFromObject(old), old); !apierrors.IsNotFound(err) {
		t.Errorf("the dropped member is still there (%v)", err)
	}
	// An unlabelled object of the same kind is never touched.
	mine := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses", Namespace: "kubexr-system"}}
	if err := env.c.Client.Create(ctx, mine); err != nil {
		t.Fatal(err)
	}
	again := dropped("xr-webhook-older")
	out = mustXR(t, "uninstall")
	if !strings.Contains(out, "serviceaccount/xr-webhook-older deleted\n") || !strings.Contains(out, "configmap/xr-webhook-applyset deleted\n") {
		t.Errorf("uninstall output:\n%s", out)
	}
	if err := env.c.Client.Get(ctx, client.ObjectKeyFromObject(again), again); !apierrors.IsNotFound(err) && err != nil {
		t.Errorf("uninstall left the dropped member (%v)", err)
	} else if err == nil && again.DeletionTimestamp == nil {
		t.Errorf("uninstall left the dropped member")
	}
	if strings.Contains(out, "someone-elses") {
		t.Errorf("uninstall deleted an object it never applied:\n%s", out)
	}
}

// TestInstallGivesUpWhenTheAPIServerCannotCallXRWebhook: replicas Ready (kwok) and a CA in
// the configurations are not enough; install reports success only once the API server's
// admissions reach xr-webhook. Here they cannot (no EndpointSlice: kwok's pods serve
// nothing), so install fails with what the API server said and leaves no configuration.
func TestInstallGivesUpWhenTheAPIServerCannotCallXRWebhook(t *testing.T) {
	ctx := context.Background()
	waitGone(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubexr-system"}}) // an earlier test's uninstall
	// A CA as cert-controller would have put there, so install gets as far as the probe.
	ca, err := os.ReadFile(env.c.PKI.CACert)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubexr-system"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kubexr-system", Name: "xr-webhook-tls"}, Data: map[string][]byte{"ca.crt": ca}},
	} {
		if err := env.c.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		mustXR(t, "uninstall")
		waitGone(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubexr-system"}})
	})
	_, errOut, err := kubectlXR(t, "install", "--image", "registry.example/xr-webhook:v1", "--timeout", "20s")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	last := lines[len(lines)-1]
	if err == nil || !strings.HasPrefix(last, "error: the API server could not call xr-webhook through its Service within ") ||
		!strings.Contains(last, `no endpoints available for service "xr-webhook"`) ||
		!strings.HasSuffix(last, "removed its webhook configurations, so nothing waits for it (kubectl -n kubexr-system logs deploy/xr-webhook)") {
		t.Errorf("install where the API server cannot reach xr-webhook: %v\n%s", err, errOut)
	}
	for _, cfg := range []client.Object{&admissionregistrationv1.MutatingWebhookConfiguration{}, &admissionregistrationv1.ValidatingWebhookConfiguration{}} {
		if err := env.c.Client.Get(ctx, client.ObjectKey{Name: "xr-webhook"}, cfg); !apierrors.IsNotFound(err) {
			t.Errorf("%T left after install gave up (%v)", cfg, err)
		}
	}
}
