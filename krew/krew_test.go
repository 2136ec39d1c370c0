// Package krew_test builds a release as `make release` does, checks every asset a
// GitHub release and a krew-index pull request need, installs kubectl-xr with the real
// krew from its archive and manifest, as a user would, and runs the installed plugin.
package krew_test

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"helm.sh/helm/v3/pkg/chart/loader"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestReleaseAssetsInstallWithKrew(t *testing.T) {
	krew := os.Getenv("KUBEXR_KREW")
	if krew == "" {
		t.Fatal("KUBEXR_KREW is not set: run `make testbins` and use `make test`")
	}
	dist := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	// A version krew cannot order is refused before anything is built.
	for _, bad := range []string{"9fadbc3-dirty", "1.2.3", "v1.2"} {
		refuse := exec.Command("hack/release.sh", bad)
		refuse.Dir = ".."
		refuse.Env = append(os.Environ(), "PLATFORMS="+platform, "DIST="+t.TempDir())
		out, err := refuse.CombinedOutput()
		if err == nil || !strings.Contains(string(out), `is not a semantic version: use vMAJOR.MINOR.PATCH`) ||
			strings.Contains(string(out), "building") || strings.Contains(string(out), "image:") {
			t.Errorf("hack/release.sh %s: %v\n%s", bad, err, out)
		}
	}
	build := exec.Command("hack/release.sh", "v0.0.0-test")
	build.Dir = ".."
	build.Env = append(os.Environ(), "PLATFORMS="+platform, "IMAGE_PLATFORMS=linux/"+runtime.GOARCH, "DIST="+dist)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("hack/release.sh: %v\n%s", err, out)
	}
	checkReleaseAssets(t, dist, platform)

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

// checkReleaseAssets: sha256sums.txt lists exactly the release's assets with their true
// sums, install.yaml names the release's image, and RELEASE.md names the image index's
// digest as the OCI layout holds it.
func checkReleaseAssets(t *testing.T, dist, platform string) {
	t.Helper()
	os_, arch, _ := strings.Cut(platform, "/")
	ext := "tar.gz"
	if os_ == "windows" {
		ext = "zip"
	}
	want := []string{
		"install.yaml", "kubectl-xr_v0.0.0-test_" + os_ + "_" + arch + "." + ext, "xr-webhook-0.0.0-test.tgz",
		"xr-webhook_v0.0.0-test.oci.tar", "xr-webhook_v0.0.0-test_linux_" + runtime.GOARCH + ".docker.tar", "xr.yaml",
	}
	sums, err := os.ReadFile(filepath.Join(dist, "sha256sums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("sha256sums.txt line %q is not `SUM  NAME`", line)
		}
		listed = append(listed, name)
		data, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Errorf("sha256sums.txt lists %s: %v", name, err)
			continue
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(data)); got != sum {
			t.Errorf("sha256sums.txt: %s is %s, the file's sum is %s", name, sum, got)
		}
	}
	slices.Sort(listed)
	if !slices.Equal(listed, want) {
		t.Errorf("sha256sums.txt lists %q, want %q", listed, want)
	}
	install, err := os.ReadFile(filepath.Join(dist, "install.yaml"))
	if err != nil || !strings.Contains(string(install), "image: ghcr.io/kubexr/xr-webhook:v0.0.0-test\n") {
		t.Errorf("install.yaml does not deploy ghcr.io/kubexr/xr-webhook:v0.0.0-test (%v)", err)
	}
	// The Helm chart: the release's version, and its image by default.
	if chrt, err := loader.Load(filepath.Join(dist, "xr-webhook-0.0.0-test.tgz")); err != nil {
		t.Errorf("Helm chart: %v", err)
	} else if chrt.Metadata.Version != "0.0.0-test" || chrt.Metadata.AppVersion != "v0.0.0-test" {
		t.Errorf("Helm chart version %q, appVersion %q; want 0.0.0-test and v0.0.0-test", chrt.Metadata.Version, chrt.Metadata.AppVersion)
	}
	digest := ociIndexDigest(t, filepath.Join(dist, "xr-webhook_v0.0.0-test.oci.tar"))
	notes, err := os.ReadFile(filepath.Join(dist, "RELEASE.md"))
	if err != nil || !strings.Contains(string(notes), "ghcr.io/kubexr/xr-webhook:v0.0.0-test@"+digest) ||
		!strings.Contains(string(notes), "plugins/xr.yaml") {
		t.Errorf("RELEASE.md does not name the image index %s and the krew-index step (%v):\n%s", digest, err, notes)
	}
}

// ociIndexDigest reads the digest of the image index an OCI layout tar holds.
func ociIndexDigest(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s has no index.json: %v", path, err)
		}
		if h.Name != "index.json" {
			continue
		}
		var index struct {
			Manifests []struct{ Digest string } `json:"manifests"`
		}
		if err := json.NewDecoder(tr).Decode(&index); err != nil || len(index.Manifests) != 1 {
			t.Fatalf("%s index.json: %v (%d manifests)", path, err, len(index.Manifests))
		}
		return index.Manifests[0].Digest
	}
}
