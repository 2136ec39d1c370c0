//go:build ignore

// chartpackage writes DIST/xr-webhook-<chart version>.tgz: manifests/chart with the
// release's version as chart version and appVersion (so the image tag defaults to it),
// packaged with Helm's SDK as `helm package --version V --app-version V` would.
// Usage: go run hack/chartpackage.go VERSION DIST
package main

import (
	"fmt"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

func main() {
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "chartpackage:", err)
		os.Exit(1)
	}
}

func run(version, dist string) error {
	c, err := loader.Load("manifests/chart")
	if err != nil {
		return err
	}
	// Chart versions are SemVer 2 without the leading v; the image tag keeps it.
	c.Metadata.Version = strings.TrimPrefix(version, "v")
	c.Metadata.AppVersion = version
	if err := c.Validate(); err != nil {
		return err
	}
	path, err := chartutil.Save(c, dist)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "chartpackage: wrote", path)
	return nil
}
