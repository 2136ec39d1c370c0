package manifests_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kubexr/kubectl-xr/manifests"
)

const chartDir = "chart"

var kubeVersion = chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}

// renderChart renders the chart as `helm template -n namespace --set …` would, CRDs
// included (helm install applies crds/ first).
func renderChart(t *testing.T, namespace string, values map[string]any) ([]*unstructured.Unstructured, error) {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = kubeVersion
	vals, err := chartutil.ToRenderValues(c, values, chartutil.ReleaseOptions{Name: "xr-webhook", Namespace: namespace, IsInstall: true}, caps)
	if err != nil {
		return nil, err
	}
	rendered, err := engine.Render(c, vals)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	names := make([]string, 0, len(rendered))
	for name := range rendered {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasSuffix(name, ".tpl") || strings.TrimSpace(rendered[name]) == "" {
			continue
		}
		objs = append(objs, decode(t, name, rendered[name])...)
	}
	for _, crd := range c.CRDObjects() {
		objs = append(objs, decode(t, crd.Filename, string(crd.File.Data))...)
	}
	return objs, nil
}

func decode(t *testing.T, name, text string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(text, "\n---") {
		data, err := utilyaml.ToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, doc)
		}
		if string(data) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		objs = append(objs, u)
	}
	return objs
}

func byKey(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		m[fmt.Sprintf("%s/%s/%s", o.GetKind(), o.GetNamespace(), o.GetName())] = o
	}
	return m
}

// TestChartRendersTheKustomizeObjects: the chart with its default values is object for
// object the kustomize base kubectl xr install applies, and with certManager.enabled the
// cert-manager overlay.
func TestChartRendersTheKustomizeObjects(t *testing.T) {
	for _, tc := range []struct {
		kustomization string
		values        map[string]any
	}{
		{manifests.Default, map[string]any{"image": map[string]any{"tag": "latest"}, "createNamespace": true}},
		{manifests.CertManager, map[string]any{"image": map[string]any{"tag": "latest"}, "createNamespace": true, "certManager": map[string]any{"enabled": true}}},
		{manifests.CAPI, map[string]any{"image": map[string]any{"tag": "latest"}, "createNamespace": true, "capi": map[string]any{"enabled": true}}},
	} {
		t.Run(tc.kustomization, func(t *testing.T) {
			kustomized, err := manifests.Render(tc.kustomization)
			if err != nil {
				t.Fatal(err)
			}
			if tc.kustomization == manifests.CAPI { // the chart renders it with the rest
				base, err := manifests.Render(manifests.Default)
				if err != nil {
					t.Fatal(err)
				}
				kustomized = append(base, kustomized...)
			}
			charted, err := renderChart(t, "kubexr-system", tc.values)
			if err != nil {
				t.Fatal(err)
			}
			want, got := byKey(kustomized), byKey(charted)
			for key, w := range want {
				g, ok := got[key]
				if !ok {
					t.Errorf("the chart lacks %s", key)
					continue
				}
				if !equality.Semantic.DeepEqual(w.Object, g.Object) {
					wy, _ := yaml.Marshal(w.Object)
					gy, _ := yaml.Marshal(g.Object)
					t.Errorf("%s differs:\nkustomize:\n%s\nchart:\n%s", key, wy, gy)
				}
			}
			for key := range got {
				if _, ok := want[key]; !ok {
					t.Errorf("the chart has %s, which kustomize does not", key)
				}
			}
		})
	}
}

// TestChartValues: the values users set reach the objects, and a namespace other than
// kubexr-system is refused in one line.
func TestChartValues(t *testing.T) {
	objs, err := renderChart(t, "kubexr-system", map[string]any{
		"image": map[string]any{"repository": "registry.example/xr", "tag": "v1.2.3"}, "replicas": 3,
		// Helm merges maps: the other resources keep their defaults.
		"resources":          map[string]any{"limits": map[string]any{"memory": "1Gi"}},
		"excludedNamespaces": []any{"ops"}, "defaultClasses": false,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := byKey(objs)
	dep := m["Deployment/kubexr-system/xr-webhook"]
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	replicas, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
	if c["image"] != "registry.example/xr:v1.2.3" || replicas != 3 || fmt.Sprint(c["resources"]) != "map[limits:map[cpu:500m memory:1Gi] requests:map[cpu:50m memory:64Mi]]" {
		t.Errorf("deployment: image %v, replicas %d, resources %v", c["image"], replicas, c["resources"])
	}
	hooks, _, _ := unstructured.NestedSlice(m["MutatingWebhookConfiguration//xr-webhook"].Object, "webhooks")
	exprs, _, _ := unstructured.NestedSlice(hooks[0].(map[string]any), "namespaceSelector", "matchExpressions")
	if got := fmt.Sprint(exprs[1].(map[string]any)["values"]); got != "[ops kubexr-system]" {
		t.Errorf("excluded namespaces %s, want [ops kubexr-system]", got)
	}
	if _, ok := m["LatencyClass//low"]; ok {
		t.Error("defaultClasses=false still renders the default classes")
	}
	if _, ok := m["Namespace//kubexr-system"]; ok {
		t.Error("createNamespace (false by default) renders the namespace")
	}

	_, err = renderChart(t, "xr", nil)
	if err == nil || !strings.Contains(err.Error(), `namespace "xr": install xr-webhook into kubexr-system`) {
		t.Errorf("namespace xr: %v", err)
	}
}

// TestChartLints: helm lint (the SDK's) finds nothing, not even informational notes
// other than the icon Helm recommends.
func TestChartLints(t *testing.T) {
	linter := lint.AllWithKubeVersion(chartDir, map[string]any{"image": map[string]any{"tag": "v0.1.0"}}, "kubexr-system", &kubeVersion)
	for _, msg := range linter.Messages {
		if msg.Severity == support.InfoSev && strings.Contains(msg.Err.Error(), "icon is recommended") {
			continue
		}
		t.Errorf("helm lint: %s", msg)
	}
}
