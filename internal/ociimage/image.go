// Package ociimage assembles xr-webhook's container image without Docker or a registry:
// one static binary per platform on an empty base, run as the non-root user 65532, put
// together with go-containerregistry. The same binaries, version, revision and creation
// time give the same digests, so a release's image can be rebuilt and checked.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kubexr/kubectl-xr/internal/version"
)

const (
	// User is the image's user: distroless's "nonroot", no entry in /etc/passwd needed.
	User = "65532:65532"
	// Entrypoint is where the binary lands; the image holds nothing else (no shell) but
	// PeererPath.
	Entrypoint = "/xr-webhook"
	// PeererPath is where xr-capi-peerer lands, for manifests/capi's Deployment (command).
	PeererPath = "/xr-capi-peerer"
	// Repository is where released images are published.
	Repository = version.ImageRepository
)

// Options say what goes into the image.
type Options struct {
	// Binaries maps a platform ("linux/amd64") to its static xr-webhook binary.
	Binaries map[string]string
	// Peerers maps a platform to its static xr-capi-peerer binary, which the image holds
	// next to xr-webhook (one image to publish and pull); optional.
	Peerers map[string]string
	// Version is the image's tag and its org.opencontainers.image.version label.
	Version string
	// Revision is the source commit (org.opencontainers.image.revision).
	Revision string
	// Source is the repository's address (org.opencontainers.image.source).
	Source string
	// Created stamps the config, history and file times; the commit's time keeps
	// rebuilds identical.
	Created time.Time
}

// tagPattern is the OCI distribution spec's tag grammar.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// Tag is the image tag of a version (version.ImageTag).
func Tag(v string) string { return version.ImageTag(v) }

// Validate says in one line what is wrong with the options.
func (o Options) Validate() error {
	if !tagPattern.MatchString(Tag(o.Version)) {
		return fmt.Errorf("version %q cannot be an image tag: use letters, digits, '.', '_' and '-' (at most 128, not starting with '.' or '-'), e.g. v0.3.0", o.Version)
	}
	if len(o.Binaries) == 0 {
		return fmt.Errorf("no binaries: give one per platform, e.g. linux/amd64")
	}
	for platform := range o.Binaries {
		if _, err := v1.ParsePlatform(platform); err != nil || !strings.HasPrefix(platform, "linux/") {
			return fmt.Errorf("platform %q is not linux/ARCH: xr-webhook images are for Linux nodes only", platform)
		}
	}
	return nil
}

// Labels are the OCI annotations the config carries as labels.
func (o Options) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "xr-webhook",
		"org.opencontainers.image.description": "kubectl-xr's admission webhook: places XR pods by Liqo's measured latency",
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.revision":    o.Revision,
		"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
}

// Build returns the OCI image index with one image per platform, in platform order.
func Build(o Options) (v1.ImageIndex, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	platforms := make([]string, 0, len(o.Binaries))
	for p := range o.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	var idx v1.ImageIndex = empty.Index
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	for _, p := range platforms {
		platform, _ := v1.ParsePlatform(p)
		img, err := o.image(o.Binaries[p], o.Peerers[p], *platform)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: platform}})
	}
	return idx, nil
}

func (o Options) image(binary, peerer string, platform v1.Platform) (v1.Image, error) {
	files := map[string][]byte{}
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	files[Entrypoint] = data
	copied := "COPY xr-webhook " + Entrypoint
	if peerer != "" {
		if files[PeererPath], err = os.ReadFile(peerer); err != nil {
			return nil, err
		}
		copied = "COPY xr-webhook xr-capi-peerer /"
	}
	layerTar, err := binaryLayer(files, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	created := v1.Time{Time: o.Created.UTC()}
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: created, CreatedBy: "kubectl-xr hack/image: " + copied}})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Created = created
	cfg.OS, cfg.Architecture, cfg.Variant = platform.OS, platform.Architecture, platform.Variant
	cfg.Config.User = User
	cfg.Config.Entrypoint = []string{Entrypoint}
	cfg.Config.WorkingDir = "/"
	cfg.Config.Labels = o.Labels()
	cfg.Config.Env = nil // nothing reads PATH: there is no shell
	return mutate.ConfigFile(img, cfg)
}

// binaryLayer is a tar holding only the binaries (path → content), in path order, owned
// by root and executable by all, with every time set to created.
func binaryLayer(binaries map[string][]byte, created time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	paths := make([]string, 0, len(binaries))
	for p := range binaries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(p, "/"), Mode: 0o755,
			Size: int64(len(binaries[p])), ModTime: created.UTC()}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(binaries[p]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Reference is repository:Tag(version), the name the archives carry.
func Reference(repository, v string) (name.Tag, error) {
	return name.NewTag(repository+":"+Tag(v), name.StrictValidation)
}
