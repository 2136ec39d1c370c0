package ociimage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// options gives two small files as the binaries: what the image does with them does
// not depend on their content (hack/image's test builds the real ones).
func options(t *testing.T) Options {
	dir := t.TempDir()
	bins := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		path := filepath.Join(dir, "xr-webhook-"+arch)
		if err := os.WriteFile(path, []byte("binary for "+arch), 0o700); err != nil {
			t.Fatal(err)
		}
		bins["linux/"+arch] = path
	}
	return Options{Binaries: bins, Version: "v0.3.0", Revision: "0123abcd", Source: "https://github.com/kubexr/kubectl-xr",
		Created: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
}

func mustBuild(t *testing.T, o Options) v1.ImageIndex {
	t.Helper()
	idx, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func digest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestBuildIsReproducibleAndChangesWithItsInputs(t *testing.T) {
	o := options(t)
	first := digest(t, mustBuild(t, o))
	if again := digest(t, mustBuild(t, o)); again != first {
		t.Fatalf("same inputs, different digests: %s then %s", first, again)
	}
	later := o
	later.Created = o.Created.Add(time.Second)
	other := o
	other.Revision = "fedcba98"
	for what, changed := range map[string]Options{"creation time": later, "revision": other} {
		if d := digest(t, mustBuild(t, changed)); d == first {
			t.Errorf("a different %s gave the same digest %s", what, d)
		}
	}
}

func TestEachPlatformIsTheBinaryAloneRunAsNonRoot(t *testing.T) {
	o := options(t)
	idx := mustBuild(t, o)
	manifest, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if manifest.MediaType != "application/vnd.oci.image.index.v1+json" || len(manifest.Manifests) != 2 {
		t.Fatalf("index %s with %d manifests, want an OCI index of 2", manifest.MediaType, len(manifest.Manifests))
	}
	for i, arch := range []string{"amd64", "arm64"} {
		desc := manifest.Manifests[i]
		if desc.Platform == nil || desc.Platform.OS != "linux" || desc.Platform.Architecture != arch {
			t.Fatalf("manifest %d platform %+v, want linux/%s", i, desc.Platform, arch)
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Config.User != "65532:65532" || strings.Join(cfg.Config.Entrypoint, " ") != "/xr-webhook" ||
			cfg.Architecture != arch || cfg.OS != "linux" || !cfg.Created.Time.Equal(o.Created) || len(cfg.Config.Env) != 0 {
			t.Errorf("linux/%s config: user %q entrypoint %v os/arch %s/%s created %v env %v", arch,
				cfg.Config.User, cfg.Config.Entrypoint, cfg.OS, cfg.Architecture, cfg.Created, cfg.Config.Env)
		}
		for key, want := range map[string]string{"org.opencontainers.image.source": o.Source,
			"org.opencontainers.image.version": "v0.3.0", "org.opencontainers.image.revision": "0123abcd",
			"org.opencontainers.image.created": "2026-12-03T10:00:00Z"} {
			if cfg.Config.Labels[key] != want {
				t.Errorf("linux/%s label %s = %q, want %q", arch, key, cfg.Config.Labels[key], want)
			}
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("linux/%s: %d layers (%v), want 1", arch, len(layers), err)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		hdr, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		content, _ := io.ReadAll(tr)
		if hdr.Name != "xr-webhook" || hdr.Mode != 0o755 || hdr.Uid != 0 || !hdr.ModTime.Equal(o.Created) ||
			string(content) != "binary for "+arch {
			t.Errorf("linux/%s layer entry %s mode %o uid %d time %v content %q", arch, hdr.Name, hdr.Mode, hdr.Uid, hdr.ModTime, content)
		}
		if next, err := tr.Next(); !errors.Is(err, io.EOF) {
			t.Errorf("linux/%s layer holds more than the binary: %v (%v)", arch, next, err)
		}
		rc.Close()
	}
}

func TestBadOptionsAreOneClearError(t *testing.T) {
	for _, tc := range []struct {
		change func(*Options)
		want   string
	}{
		{func(o *Options) { o.Version = "v0.3.0/1" }, `version "v0.3.0/1" cannot be an image tag`},
		{func(o *Options) { o.Version = "" }, `version "" cannot be an image tag`},
		{func(o *Options) { o.Binaries = map[string]string{"windows/amd64": "x"} }, `platform "windows/amd64" is not linux/ARCH`},
		{func(o *Options) { o.Binaries = nil }, "no binaries"},
	} {
		o := options(t)
		tc.change(&o)
		if _, err := Build(o); err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Build: %v, want one line containing %q", err, tc.want)
		}
	}
}

func TestArchivesAreReproducibleAndLoadBack(t *testing.T) {
	o := options(t)
	idx := mustBuild(t, o)
	ref, err := Reference(Repository, o.Version)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var sums [2][32]byte
	for i := range sums {
		path := filepath.Join(dir, "oci.tar")
		if err := WriteOCIArchive(mustBuild(t, o), ref, o.Created, path); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = sha256.Sum256(data)
	}
	if sums[0] != sums[1] {
		t.Errorf("two OCI archives of the same image differ: %x, %x", sums[0], sums[1])
	}

	// The OCI layout names the index as ctr images import reads it.
	unpacked := t.TempDir()
	untar(t, filepath.Join(dir, "oci.tar"), unpacked)
	top, err := layout.ImageIndexFromPath(unpacked)
	if err != nil {
		t.Fatal(err)
	}
	topManifest, err := top.IndexManifest()
	if err != nil || len(topManifest.Manifests) != 1 {
		t.Fatalf("index.json: %+v (%v), want one index", topManifest, err)
	}
	desc := topManifest.Manifests[0]
	if desc.Digest != digest(t, idx) || desc.Annotations["io.containerd.image.name"] != "ghcr.io/kubexr/xr-webhook:v0.3.0" ||
		desc.Annotations["org.opencontainers.image.ref.name"] != "v0.3.0" {
		t.Errorf("index.json names %s %v, want %s named ghcr.io/kubexr/xr-webhook:v0.3.0", desc.Digest, desc.Annotations, digest(t, idx))
	}

	paths, err := WriteDockerArchives(idx, ref, dir)
	if err != nil {
		t.Fatal(err)
	}
	manifest, _ := idx.IndexManifest()
	for i, path := range paths {
		if want := filepath.Join(dir, "xr-webhook_v0.3.0_linux_"+manifest.Manifests[i].Platform.Architecture+".docker.tar"); path != want {
			t.Errorf("docker archive %s, want %s", path, want)
		}
		loaded, err := tarball.ImageFromPath(path, &ref)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := idx.Image(manifest.Manifests[i].Digest)
		if got, want := mustConfigName(t, loaded), mustConfigName(t, want); got != want {
			t.Errorf("%s: config %s, want %s", path, got, want)
		}
	}
}

func TestPushToARegistryAndPullBackByDigest(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	o := options(t)
	idx := mustBuild(t, o)
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/kubexr/xr-webhook:" + o.Version)
	if err != nil {
		t.Fatal(err)
	}
	byDigest, err := Push(idx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if byDigest.DigestStr() != digest(t, idx).String() {
		t.Errorf("Push returned %s, want the index digest %s", byDigest, digest(t, idx))
	}
	pulled, err := remote.Index(byDigest)
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, pulled) != digest(t, idx) {
		t.Errorf("pulled %s back, pushed %s", digest(t, pulled), digest(t, idx))
	}
	arm, err := remote.Image(ref, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := arm.ConfigFile(); err != nil || cfg.Architecture != "arm64" || cfg.Config.User != User {
		t.Errorf("linux/arm64 pulled by tag: %+v (%v)", cfg, err)
	}
}

func mustConfigName(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func untar(t *testing.T, path, dir string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if hdr.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		content, _ := io.ReadAll(tr)
		if err := os.WriteFile(target, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBuildMetadataBecomesAValidTag(t *testing.T) {
	ref, err := Reference(Repository, "v1.0.0+build.5")
	if err != nil || ref.String() != "ghcr.io/kubexr/xr-webhook:v1.0.0_build.5" {
		t.Errorf("Reference(v1.0.0+build.5) = %v (%v), want ghcr.io/kubexr/xr-webhook:v1.0.0_build.5", ref, err)
	}
	o := options(t)
	o.Version = "v1.0.0+build.5"
	if _, err := Build(o); err != nil {
		t.Errorf("a version with build metadata: %v", err)
	}
}
