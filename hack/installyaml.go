//go:build ignore

// installyaml writes DIST/install.yaml: every object `kubectl xr install` applies, with
// xr-webhook running the release's image, for `kubectl apply --server-side -f` without
// the plugin. The default LatencyClasses are left out: `kubectl apply` cannot create
// objects of a CRD in the same run that creates the CRD, and xr-webhook uses the very
// same defaults while no LatencyClass exists (kubectl xr install adds them as objects).
// Usage: go run hack/installyaml.go VERSION DIST
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	"github.com/kubexr/kubectl-xr/internal/version"
	"github.com/kubexr/kubectl-xr/manifests"
	"github.com/kubexr/kubectl-xr/plugin"
)

func main() {
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "installyaml:", err)
		os.Exit(1)
	}
}

func run(release, dist string) error {
	image := version.Image(release)
	objs, err := plugin.InstallObjects(manifests.Default, image, false)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "# xr-webhook %s for kubectl apply --server-side -f (kubectl xr install applies the same,\n", release)
	fmt.Fprintf(&out, "# plus the default LatencyClasses xr-webhook otherwise assumes). Image: %s\n", image)
	for _, obj := range objs {
		if obj.GetKind() == "LatencyClass" {
			continue
		}
		data, err := yaml.Marshal(obj.Object)
		if err != nil {
			return err
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	return os.WriteFile(filepath.Join(dist, "install.yaml"), out.Bytes(), 0o644)
}
