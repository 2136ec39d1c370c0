package main

import (
	"archive/tar"
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestSameCommitSameDigestAndTheBinaryRuns builds the real xr-webhook image twice from
// this checkout (the host's platform only: the cross-built second one would add minutes
// to make test; internal/ociimage covers multi-platform assembly), then pushes it to an
// in-process registry and pulls it back by digest.
func TestSameCommitSameDigestAndTheBinaryRuns(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/kubexr/xr-webhook"
	platform := "linux/" + runtime.GOARCH
	var digests []string
	var archives [][]byte
	for i := range 2 {
		o := options{version: "v0.0.0-repro", revision: "0123abcd", source: "https://github.com/kubexr/kubectl-xr",
			repository: "ghcr.io/kubexr/xr-webhook", out: t.TempDir(), platforms: platform, created: 1764000000, root: "../.."}
		if i == 1 {
			o.push = repo
		}
		built, err := o.build()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, built)
		data, err := os.ReadFile(filepath.Join(o.out, "xr-webhook_v0.0.0-repro.oci.tar"))
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, data)
		if i == 0 {
			runTheBinaries(t, filepath.Join(o.out, "xr-webhook_v0.0.0-repro_"+strings.ReplaceAll(platform, "/", "_")+".docker.tar"))
		}
	}
	if digests[0] != digests[1] || !strings.HasPrefix(digests[0], "ghcr.io/kubexr/xr-webhook:v0.0.0-repro@sha256:") {
		t.Fatalf("two builds of one commit: %s and %s, want the same ghcr.io/kubexr/xr-webhook:v0.0.0-repro@sha256:…", digests[0], digests[1])
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Errorf("two builds of one commit wrote different OCI archives (%d and %d bytes)", len(archives[0]), len(archives[1]))
	}
	_, digest, _ := strings.Cut(digests[0], "@")
	byDigest, err := name.NewDigest(repo + "@" + digest)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(byDigest)
	if err != nil {
		t.Fatalf("pull %s back: %v", byDigest, err)
	}
	if got, _ := pulled.Digest(); got.String() != digest {
		t.Errorf("pulled %s back, built %s", got, digest)
	}
}

// runTheBinaries takes /xr-capi-peerer and /xr-webhook (the only files) out of a docker
// archive and runs each: static binaries that start with nothing else around them and
// know their version.
func runTheBinaries(t *testing.T, archive string) {
	t.Helper()
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%s: %d layers (%v)", archive, len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(t.TempDir(), hdr.Name)
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		// An empty environment and no working files: what the image gives it.
		cmd := exec.Command(bin, "--version")
		cmd.Env, cmd.Dir = []string{}, "/"
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != hdr.Name+" v0.0.0-repro\n" {
			t.Errorf("%s --version from the image: %v\n%s", hdr.Name, err, out)
		}
		if bytes.Contains(data, []byte("/work/")) || bytes.Contains(data, []byte(os.Getenv("HOME")+"/go/pkg/mod")) {
			t.Errorf("%s holds build paths (-trimpath missing): not reproducible elsewhere", hdr.Name)
		}
	}
	if strings.Join(names, " ") != "xr-capi-peerer xr-webhook" {
		t.Errorf("the image's files: %v, want xr-capi-peerer and xr-webhook only", names)
	}
}
