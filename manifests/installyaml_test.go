package manifests_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// make dist's install.yaml applies with the real kubectl in one run (no LatencyClass
// needing the CRD the same run creates) and deploys the release's image.
func TestInstallYAMLAppliesWithKubectlAndNamesTheReleaseImage(t *testing.T) {
	dist := t.TempDir()
	render := exec.Command("go", "run", "hack/installyaml.go", "v0.0.0-test", dist)
	render.Dir = ".."
	if out, err := render.CombinedOutput(); err != nil {
		t.Fatalf("hack/installyaml.go: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dist, "install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n---\n"); n != 17 || strings.Contains(string(data), "\nkind: LatencyClass\n") {
		t.Errorf("install.yaml holds %d objects (want 17, no LatencyClass)", n)
	}

	sb := sandbox.NewForTest(t)
	c := sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: "install-yaml"})
	apply := exec.Command(sb.Binary("kubectl"), "--kubeconfig", c.KubeconfigPath, "apply", "--server-side", "-f", filepath.Join(dist, "install.yaml"))
	apply.Env = append(os.Environ(), "KUBECONFIG=")
	out, err := apply.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply --server-side -f install.yaml: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), " serverside-applied\n"); n != 17 {
		t.Errorf("kubectl applied %d objects, want 17:\n%s", n, out)
	}
	dep := &appsv1.Deployment{}
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: "kubexr-system", Name: "xr-webhook"}, dep); err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != "ghcr.io/kubexr/xr-webhook:v0.0.0-test" {
		t.Errorf("install.yaml deploys %s, want ghcr.io/kubexr/xr-webhook:v0.0.0-test", got)
	}
}
