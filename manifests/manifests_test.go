package manifests_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	xrv1alpha1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/manifests"
	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/sandbox"
)

func TestLatencyClassCRDAndDefaultsOnARealAPIServer(t *testing.T) {
	sb := sandbox.NewForTest(t)
	c := sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: "classes"})
	ctx := context.Background()

	crdObjs, err := manifests.Objects("crd/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, u := range crdObjs {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, crd); err != nil {
			t.Fatal(err)
		}
		crds = append(crds, crd)
	}
	if _, err := envtest.InstallCRDs(c.Config, envtest.CRDInstallOptions{CRDs: crds}); err != nil {
		t.Fatalf("install the embedded CRD: %v", err)
	}

	classObjs, err := manifests.Objects("classes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range classObjs {
		if err := c.Client.Create(ctx, u); err != nil {
			t.Fatalf("create %s: %v", u.GetName(), err)
		}
	}

	// Read back through the Go types; the manifest must equal the compiled-in defaults.
	scheme := runtime.NewScheme()
	if err := xrv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(c.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	var list xrv1alpha1.LatencyClassList
	if err := cl.List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	var got []policy.Class
	for _, lc := range list.Items {
		pc, err := policy.ParseClass(lc.Name, lc.Spec.MaxRTT, lc.Spec.MoveAfter, lc.Spec.Description)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, pc)
	}
	set, err := policy.NewClassSet(got)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(policy.MustDefaultClassSet().Classes(), set.Classes()); diff != "" {
		t.Errorf("manifest classes differ from policy.DefaultClasses (-compiled +manifest):\n%s", diff)
	}

	// The schema refuses a maxRTT that is not a duration.
	bad := &xrv1alpha1.LatencyClass{Spec: xrv1alpha1.LatencyClassSpec{MaxRTT: "fast"}}
	bad.Name = "bad"
	err = cl.Create(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "spec.maxRTT") {
		t.Errorf("creating maxRTT \"fast\" = %v, want a validation error on spec.maxRTT", err)
	}
	for _, ok := range []string{"15ms", "850us", "850μs", "1.5ms", ""} {
		good := &xrv1alpha1.LatencyClass{Spec: xrv1alpha1.LatencyClassSpec{MaxRTT: ok}}
		good.GenerateName = "ok-"
		if err := cl.Create(ctx, good); err != nil {
			t.Errorf("creating maxRTT %q: %v", ok, err)
		}
	}

	// The real kubectl resolves the short name and prints the columns.
	kubectl := exec.Command(sb.Binary("kubectl"), "--kubeconfig", c.KubeconfigPath, "get", "lc", "low", "ultra-low")
	kubectl.Env = append(os.Environ(), "KUBECONFIG=")
	out, err := kubectl.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get lc: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "MAX RTT") ||
		!strings.Contains(lines[1], "20ms") || !strings.Contains(lines[2], "10ms") {
		t.Errorf("kubectl get lc output:\n%s\nwant a header with MAX RTT and rows low 20ms, ultra-low 10ms", out)
	}
}

// The embedded kustomizations render in-process exactly as the real kubectl renders the
// folders (the plugin installs what the tests apply).
func TestRenderMatchesKubectlKustomize(t *testing.T) {
	sb, err := sandbox.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{manifests.Default, manifests.CertManager, manifests.CAPI} {
		got, err := manifests.Render(name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := sb.Kustomize(filepath.Join(".", name))
		if err != nil {
			t.Fatal(err)
		}
		// Compared as JSON: the decoders differ only in number types (float64, int64).
		wantJSON, _ := json.MarshalIndent(want, "", " ")
		gotJSON, _ := json.MarshalIndent(got, "", " ")
		if diff := cmp.Diff(string(wantJSON), string(gotJSON)); diff != "" {
			t.Errorf("manifests/%s (-kubectl +Render):\n%s", name, diff)
		}
	}
}

// The validator's matchConditions list the hint keys in CEL; they must be exactly
// policy.HintKeys, or a new hint key would never be validated (and a removed one would
// make an outage block more than it must).
func TestValidatorMatchConditionsNameEveryHintKey(t *testing.T) {
	objs, err := manifests.Objects("webhook/webhooks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	quoted := make([]string, len(policy.HintKeys))
	for i, k := range policy.HintKeys {
		quoted[i] = "'" + k + "'"
	}
	want := "[" + strings.Join(quoted, ", ") + "]"
	checked := 0
	for _, o := range objs {
		if o.GetKind() != "ValidatingWebhookConfiguration" {
			continue
		}
		hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
		for _, h := range hooks {
			conds, _ := h.(map[string]any)["matchConditions"].([]any)
			for _, c := range conds {
				expr, _ := c.(map[string]any)["expression"].(string)
				if strings.Contains(expr, "kubexr.io/") {
					checked++
					if !strings.Contains(strings.Join(strings.Fields(expr), " "), want) {
						t.Errorf("webhook %v: matchCondition does not list exactly %s:\n%s", h.(map[string]any)["name"], want, expr)
					}
				}
			}
		}
	}
	if checked != 2 {
		t.Errorf("checked %d matchConditions naming hint keys, want 2 (pods and workloads, namespaces)", checked)
	}
}
