package plugin_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/internal/capipeer"
	"github.com/kubexr/kubectl-xr/plugin"
	"github.com/kubexr/kubectl-xr/test/capilocal"
)

// TestInstallCAPIAddsKeepsAndRemovesXRCAPIPeerer: install --capi adds xr-capi-peerer (in
// xr-webhook's image, with its own ServiceAccount) on Cluster API's management cluster,
// refuses a cluster without Cluster API, keeps it when install runs again without the
// flag, and --capi=false removes it. Its ServiceAccount can do what peering needs and no
// more than manifests/capi says (asked of the API server's authorizer).
func TestInstallCAPIAddsKeepsAndRemovesXRCAPIPeerer(t *testing.T) {
	ctx := context.Background()
	const image = "registry.example/xr-webhook:v2"
	out := mustXR(t, "install", "--capi", "--dry-run=client", "-o", "yaml", "--image", image)
	if n := strings.Count(out, "\n  kind: "); n != 28 {
		t.Errorf("install --capi --dry-run printed %d objects, want 28 (22 + xr-capi-peerer's 6)", n)
	}
	if strings.Count(out, "image: "+image) != 2 || !strings.Contains(out, "- /xr-capi-peerer\n") {
		t.Errorf("install --capi does not run xr-capi-peerer from xr-webhook's image:\n%s", out)
	}

	// A cluster where Cluster API does not run (a workload cluster: the test bed installs
	// Cluster API's CRDs everywhere) is refused before anything is applied.
	streams, _, stdout, stderr := genericiooptions.NewTestIOStreams()
	err := plugin.Execute(streams, []string{"--kubeconfig", env.athens.KubeconfigPath, "install", "--capi", "--image", image, "--wait=false"})
	if err == nil || !strings.Contains(stderr.String(), "--capi: Cluster API does not run on this cluster (no ValidatingWebhookConfiguration capi-validating-webhook-configuration") || stdout.Len() > 0 {
		t.Errorf("install --capi without Cluster API: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}

	out = mustXR(t, "install", "--capi", "--image", image, "--wait=false")
	if !strings.Contains(out, "deployment.apps/xr-capi-peerer serverside-applied\n") ||
		!strings.Contains(out, "clusterrole.rbac.authorization.k8s.io/xr-capi-peerer serverside-applied\n") {
		t.Errorf("install --capi:\n%s", out)
	}
	t.Cleanup(func() {
		_, _, _ = kubectlXR(t, "uninstall")
		waitGone(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubexr-system"}})
	})
	peerer := &appsv1.Deployment{}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Namespace: "kubexr-system", Name: "xr-capi-peerer"}, peerer); err != nil {
		t.Fatal(err)
	}
	if c := peerer.Spec.Template.Spec.Containers[0]; c.Image != image || strings.Join(c.Command, " ") != "/xr-capi-peerer" ||
		peerer.Spec.Template.Spec.ServiceAccountName != "xr-capi-peerer" {
		t.Errorf("xr-capi-peerer runs %s %v as %s", c.Image, c.Command, peerer.Spec.Template.Spec.ServiceAccountName)
	}

	// Least privilege, asked of the authorizer as the ServiceAccount.
	sa := "system:serviceaccount:kubexr-system:xr-capi-peerer"
	for _, c := range []struct {
		group, resource, subresource, verb, namespace string
		allowed                                       bool
	}{
		{"cluster.x-k8s.io", "clusters", "", "watch", "fleet", true},
		{"cluster.x-k8s.io", "clusters", "status", "patch", "fleet", true},
		{"", "secrets", "", "get", "fleet", true},
		{"core.liqo.io", "foreignclusters", "", "delete", "", true},
		{"cluster.x-k8s.io", "clusters", "", "delete", "fleet", false},
		{"cluster.x-k8s.io", "clusters", "", "create", "fleet", false},
		{"", "pods", "", "create", "default", false},
		{"", "nodes", "", "patch", "", false},
		{"", "namespaces", "", "delete", "", false},
		{"apps", "deployments", "", "update", "kubexr-system", false},
		{"rbac.authorization.k8s.io", "clusterroles", "", "escalate", "", false},
		{"admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", "patch", "", false},
	} {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: sa,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kubexr-system", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Group: c.group, Resource: c.resource, Subresource: c.subresource,
				Verb: c.verb, Namespace: c.namespace}}}
		if err := env.c.Client.Create(ctx, review); err != nil {
			t.Fatal(err)
		}
		if review.Status.Allowed != c.allowed {
			t.Errorf("xr-capi-peerer may %s %s/%s %s in %q: %v, want %v", c.verb, c.group, c.resource, c.subresource, c.namespace, review.Status.Allowed, c.allowed)
		}
	}

	// Installing again keeps it; --capi=false removes it (the ApplySet prunes what is not applied).
	if _, errOut, err := kubectlXR(t, "install", "--wait=false"); err != nil || !strings.Contains(errOut, "keeping xr-capi-peerer (--capi=false removes it)\n") {
		t.Errorf("install again: %v, stderr %q", err, errOut)
	}
	if err := env.c.Client.Get(ctx, client.ObjectKeyFromObject(peerer), &appsv1.Deployment{}); err != nil {
		t.Errorf("install without --capi removed xr-capi-peerer: %v", err)
	}
	out = mustXR(t, "install", "--wait=false", "--capi=false")
	if !strings.Contains(out, "deployment.apps/xr-capi-peerer") || !strings.Contains(out, "pruned") {
		t.Errorf("install --capi=false:\n%s", out)
	}
	waitGone(t, peerer)
	err = env.c.Client.Get(ctx, client.ObjectKey{Name: "xr-capi-peerer"}, &rbacv1.ClusterRole{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("xr-capi-peerer's ClusterRole after install --capi=false: %v, want it pruned", err)
	}

	// Uninstalling xr-capi-peerer releases the Clusters it held: nothing else would remove
	// its finalizer, and they could never be deleted.
	mustXR(t, "install", "--capi", "--image", image, "--wait=false")
	held := capilocal.Cluster("fleet", "held-edge", nil)
	held.Finalizers = []string{capipeer.Finalizer}
	held.Annotations = map[string]string{capipeer.AnnotationClusterID: "held-edge"}
	if err := env.c.Client.Create(ctx, held); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.c.Client.Delete(ctx, held) })
	if out := mustXR(t, "uninstall", "--dry-run=server"); !strings.Contains(out,
		"cluster.cluster.x-k8s.io/held-edge released from xr-capi-peerer (server dry run) (its peering held-edge stays: kubectl xr peer remove held-edge ends it)\n") {
		t.Errorf("uninstall --dry-run=server:\n%s", out)
	}
	if err := env.c.Client.Get(ctx, client.ObjectKeyFromObject(held), held); err != nil || !slices.Contains(held.Finalizers, capipeer.Finalizer) {
		t.Fatalf("uninstall --dry-run=server released held-edge: %v %v", err, held.Finalizers)
	}
	if out := mustXR(t, "uninstall"); !strings.Contains(out, "cluster.cluster.x-k8s.io/held-edge released from xr-capi-peerer (its peering held-edge stays") {
		t.Errorf("uninstall:\n%s", out)
	}
	if err := env.c.Client.Get(ctx, client.ObjectKeyFromObject(held), held); err != nil || slices.Contains(held.Finalizers, capipeer.Finalizer) {
		t.Errorf("after uninstall, held-edge: %v, finalizers %v", err, held.Finalizers)
	}
}

// TestPeerRemoveLeavesManagedPeersToXRCAPIPeerer: a peer xr-capi-peerer manages would be
// peered again while its Cluster is selected: peer remove says what to do instead.
func TestPeerRemoveLeavesManagedPeersToXRCAPIPeerer(t *testing.T) {
	ctx := context.Background()
	fc := &liqov1beta1.ForeignCluster{ObjectMeta: metav1.ObjectMeta{Name: "managed-edge", Annotations: map[string]string{
		plugin.AnnotationCAPICluster: "fleet/managed-edge", "kubexr.io/managed-by": "xr-capi-peerer"}},
		Spec: liqov1beta1.ForeignClusterSpec{ClusterID: "managed-edge"}}
	if err := env.c.Client.Create(ctx, fc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.c.Client.Delete(ctx, fc) })
	oneLineError(t, "managed-edge is peered by xr-capi-peerer from Cluster API cluster fleet/managed-edge, which would peer it again: "+
		"remove the label that selects the Cluster (by default: kubectl label cluster -n fleet managed-edge kubexr.io/peer-) or delete the Cluster",
		"peer", "remove", "managed-edge")
}
