package manifests

import (
	"fmt"
	"io/fs"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Kustomizations that Render accepts.
const (
	// Default is the LatencyClass CRD, the default classes and xr-webhook with its own
	// certificate rotation.
	Default = "default"
	// CertManager is Default with certificates from cert-manager.
	CertManager = "cert-manager"
	// CAPI is xr-capi-peerer, which kubectl xr install --capi adds to either (they create
	// its namespace).
	CAPI = "capi"
)

// Render builds one of the embedded kustomizations (Default, CertManager, CAPI) in memory, as
// `kubectl kustomize manifests/<name>` does.
func Render(name string) ([]*unstructured.Unstructured, error) {
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+path, data)
	})
	if err != nil {
		return nil, fmt.Errorf("load embedded manifests: %w", err)
	}
	opts := krusty.MakeDefaultOptions()
	// kubectl kustomize's order: namespaces and CRDs first, webhook configurations last.
	opts.Reorder = krusty.ReorderOptionLegacy
	resources, err := krusty.MakeKustomizer(opts).Run(mem, "/"+name)
	if err != nil {
		return nil, fmt.Errorf("render manifests/%s: %w", name, err)
	}
	out := make([]*unstructured.Unstructured, 0, resources.Size())
	for _, r := range resources.Resources() {
		// Through JSON, so numbers are what unstructured objects hold (int64/float64).
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("render manifests/%s: %w", name, err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("render manifests/%s: %w", name, err)
		}
		out = append(out, u)
	}
	return out, nil
}
