// Package krew_test installs kubectl-xr with the real krew from the archive and manifest
// that `make dist` builds, as a user would, and runs the installed plugin.
package krew_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestKrewInstallsTheDistArchive(t *testing.T) {
	krew := os.Getenv("KUBEXR_KREW")
	if krew == "" {
		t.Fatal("KUBEXR_KREW is not set: run `make testbins` and use `make test`")
	}
	dist := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	// A version krew cannot order is refused before anything is built.
	for _, bad := range []string{"9fadbc3-dirty", "1.2.3", "v1.2"} {
		refuse := exec.Command("hack/dist.sh", bad)
		refuse.Dir = ".."
		refuse.Env = append(os.Environ(), "PLATFORMS="+platform, "DIST="+t.TempDir())
		out, err := refuse.CombinedOutput()
		if err == nil || !strings.Contains(string(out), `is not a semantic version: use vMAJOR.MINOR.PATCH`) || strings.Contains(string(out), "building") {
			t.Errorf("hack/dist.sh %s: %v\n%s", bad, err, out)
		}
	}
	build := exec.Command("hack/dist.sh", "v0.0.0-test")
	build.Dir = ".."
	build.Env = append(os.Environ(), "PLATFORMS="+platform, "DIST="+dist)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("hack/dist.sh: %v\n%s", err, out)
	}

	// The rendered manifest: real version and sha256, the host's platform.
	data, err := os.ReadFile(filepath.Join(dist, "xr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Kind     string                `json:"kind"`
		Metadata struct{ Name string } `json:"metadata"`
		Spec     struct {
			Version          string `json:"version"`
			ShortDescription string `json:"shortDescription"`
			Caveats          string `json:"caveats"`
			Platforms        []struct {
				URI, Sha256, Bin string
			} `json:"platforms"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.Kind != "Plugin" || manifest.Metadata.Name != "xr" || manifest.Spec.Version != "v0.0.0-test" ||
		len(manifest.Spec.Platforms) != 1 || len(manifest.Spec.Platforms[0].Sha256) != 64 ||
		!strings.Contains(manifest.Spec.Caveats, "kubectl xr install") || !strings.Contains(manifest.Spec.Caveats, "Liqo v1.2.x") ||
		len(manifest.Spec.ShortDescription) > 50 {
		t.Fatalf("dist/xr.yaml:\n%s", data)
	}

	// krew's own validation (pkg/index/validation and the offline checks of
	// validate-krew-manifest: name from the file, selectors, no overlap).
	validate := exec.Command(filepath.Join(filepath.Dir(krew), "validate-krew-manifest"),
		"-manifest", filepath.Join(dist, "xr.yaml"), "-skip-install")
	if out, err := validate.CombinedOutput(); err != nil {
		t.Fatalf("validate-krew-manifest: %v\n%s", err, out)
	}

	// kubectl krew install, through the real kubectl's plugin discovery, then kubectl xr.
	kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	root, bin := t.TempDir(), t.TempDir()
	if err := os.Symlink(krew, filepath.Join(bin, "kubectl-krew")); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "KREW_ROOT="+root, "KREW_NO_UPGRADE_CHECK=1",
		"PATH="+filepath.Join(root, "bin")+":"+bin+":/usr/bin:/bin")
	archive := filepath.Join(dist, filepath.Base(manifest.Spec.Platforms[0].URI))
	install := exec.Command(kubectl, "krew", "install", "--manifest="+filepath.Join(dist, "xr.yaml"), "--archive="+archive)
	install.Env = env
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("kubectl krew install: %v\n%s", err, out)
	}
	version := exec.Command(kubectl, "xr", "version")
	version.Env = env
	out, err := version.CombinedOutput()
	if err != nil || string(out) != "kubectl-xr v0.0.0-test\n" {
		t.Errorf("kubectl xr version after krew install: %v %q", err, out)
	}
	// The archive carries the license, the README and the completion helper.
	for _, f := range []string{"LICENSE", "README.md", "kubectl_complete-xr"} {
		if _, err := os.Stat(filepath.Join(root, "store", "xr", "v0.0.0-test", f)); err != nil {
			t.Errorf("%s not installed from the archive: %v", f, err)
		}
	}
}
