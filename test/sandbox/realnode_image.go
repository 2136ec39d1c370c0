package sandbox

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kubexr/kubectl-xr/internal/ociimage"
)

// PauseImage is the pod sandbox image of every real node (cmd/pause), imported into each
// node's containerd: nothing is ever pulled (.invalid: no registry could answer for it).
const PauseImage = "sandbox.kubexr.invalid/pause:1"

// buildPauseImage builds cmd/pause for this machine and writes it as an OCI archive that
// `ctr images import` names PauseImage.
func buildPauseImage(dir string) (string, error) {
	return BuildImage("./test/sandbox/cmd/pause", PauseImage, "", dir)
}

// BuildImage builds the Go command pkg (relative to this repository's root) for this
// machine and writes a one-layer image of it, running as user ("" is root), as an OCI
// archive in dir for ClusterOptions.Images; the image is named ref.
func BuildImage(pkg, ref, user, dir string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	base := filepath.Base(pkg)
	bin := filepath.Join(dir, base)
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", pkg, err, out)
	}
	archive := filepath.Join(dir, base+".oci.tar")
	return archive, writeBinaryImage(bin, "/"+base, ref, user, archive)
}

// writeBinaryImage writes a one-layer image holding only binary (at entrypoint, run as
// user) for this machine's architecture as an OCI archive.
func writeBinaryImage(binary, entrypoint, ref, user, archive string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	if err := tw.WriteHeader(&tar.Header{Name: entrypoint[1:], Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Config.Entrypoint = []string{entrypoint}
	cfg.Config.User = user
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}})
	return ociimage.WriteOCIArchive(idx, tag, time.Unix(0, 0), archive)
}
