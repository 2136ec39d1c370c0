package plugin_test

import (
	"context"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

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

	out = mustXR(t, "install", "--image", "registry.example/xr-webhook:v1", "--timeout", "2m")
	for _, want := range []string{"customresourcedefinition.apiextensions.k8s.io/latencyclasses.kubexr.io serverside-applied",
		"deployment.apps/xr-webhook serverside-applied", "mutatingwebhookconfiguration.admissionregistration.k8s.io/xr-webhook serverside-applied",
		"xr-webhook is available"} {
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

	// Installing again is a no-op apply.
	mustXR(t, "install", "--wait=false")

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
	oneLineError(t, "--dry-run needs -o yaml or -o json", "install", "--dry-run")
}
