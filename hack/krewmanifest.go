//go:build ignore

// krewmanifest renders krew/xr.yaml into DIST/xr.yaml: the version, and each archive's
// sha256 from DIST/sha256sums.txt. Platforms without an archive are left out (a partial
// build, PLATFORMS=...), so the manifest is always valid for what was built.
// Usage: go run hack/krewmanifest.go VERSION DIST
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "krewmanifest:", err)
		os.Exit(1)
	}
}

func run(version, dist string) error {
	sums := map[string]string{} // archive name -> sha256
	f, err := os.Open(filepath.Join(dist, "sha256sums.txt"))
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sum, name, ok := strings.Cut(sc.Text(), "  "); ok {
			sums[name] = sum
		}
	}
	tmpl, err := os.ReadFile("krew/xr.yaml")
	if err != nil {
		return err
	}
	text := strings.ReplaceAll(string(tmpl), "@VERSION@", version)
	var plugin map[string]any
	if err := yaml.Unmarshal([]byte(text), &plugin); err != nil {
		return err
	}
	spec := plugin["spec"].(map[string]any)
	var kept []any
	for _, p := range spec["platforms"].([]any) {
		platform := p.(map[string]any)
		uri := platform["uri"].(string)
		sum, ok := sums[uri[strings.LastIndex(uri, "/")+1:]]
		if !ok {
			continue
		}
		platform["sha256"] = sum
		kept = append(kept, platform)
	}
	if len(kept) == 0 {
		return fmt.Errorf("no archive in %s matches a platform of krew/xr.yaml", dist)
	}
	spec["platforms"] = kept
	out, err := yaml.Marshal(plugin)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dist, "xr.yaml"), out, 0o644)
}
