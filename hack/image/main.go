// Command image builds xr-webhook's container image without Docker or a registry: it
// cross-builds the static binaries (xr-webhook, and xr-capi-peerer next to it) for each
// platform, assembles an OCI image index with
// internal/ociimage, writes dist/xr-webhook_<version>.oci.tar (an OCI layout, for
// `ctr images import`) and one docker-archive per platform (for `docker load` and
// `kind load image-archive`), and with -push uploads the index to a registry.
//
// Usage (make image / make push set these):
//
//	go run ./hack/image -version v0.3.0 -revision $(git rev-parse HEAD) -created $(git log -1 --format=%ct)
//	go run ./hack/image ... -push registry.example/team/xr-webhook
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kubexr/kubectl-xr/internal/ociimage"
)

type options struct {
	version, revision, source, repository, out, platforms, push string
	created                                                     int64
	// root is the module's folder (the current one under go run).
	root string
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var o options
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.StringVar(&o.version, "version", "", "the image's tag and version label, e.g. v0.3.0 (required)")
	fs.StringVar(&o.revision, "revision", "", "the source commit (org.opencontainers.image.revision)")
	fs.Int64Var(&o.created, "created", 0, "creation time in Unix seconds; the commit's time keeps rebuilds identical")
	fs.StringVar(&o.source, "source", "https://github.com/kubexr/kubectl-xr", "the source repository's address")
	fs.StringVar(&o.repository, "repo", ociimage.Repository, "repository the archives name the image in")
	fs.StringVar(&o.out, "out", "dist", "folder for the archives")
	fs.StringVar(&o.platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated linux/ARCH list")
	fs.StringVar(&o.push, "push", "", "also push the index to this repository (REGISTRY/REPO), tagged -version")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.version == "" {
		return fmt.Errorf("-version is required: the image's tag, e.g. -version v0.3.0")
	}
	o.root = "."
	built, err := o.build()
	if err != nil {
		return err
	}
	fmt.Println(built)
	return nil
}

// build writes the archives (and pushes) and returns the image by digest.
func (o options) build() (string, error) {
	ref, err := ociimage.Reference(o.repository, o.version)
	if err != nil {
		return "", fmt.Errorf("-repo %q with -version %q is not an image reference: %w", o.repository, o.version, err)
	}
	var pushTo name.Reference
	if o.push != "" {
		if pushTo, err = ociimage.Reference(o.push, o.version); err != nil {
			return "", fmt.Errorf("-push %q is not a repository (REGISTRY/REPO, no tag): %w", o.push, err)
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return "", err
	}
	binDir, err := os.MkdirTemp("", "xr-webhook-bin-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(binDir)
	opts := ociimage.Options{Binaries: map[string]string{}, Peerers: map[string]string{}, Version: o.version,
		Revision: o.revision, Source: o.source, Created: time.Unix(o.created, 0).UTC()}
	for _, platform := range strings.Split(o.platforms, ",") {
		bin := filepath.Join(binDir, "xr-webhook_"+strings.ReplaceAll(platform, "/", "_"))
		if err := goBuild(o.root, "xr-webhook", platform, o.version, bin); err != nil {
			return "", err
		}
		opts.Binaries[platform] = bin
		peerer := filepath.Join(binDir, "xr-capi-peerer_"+strings.ReplaceAll(platform, "/", "_"))
		if err := goBuild(o.root, "xr-capi-peerer", platform, o.version, peerer); err != nil {
			return "", err
		}
		opts.Peerers[platform] = peerer
	}
	idx, err := ociimage.Build(opts)
	if err != nil {
		return "", err
	}
	digest, err := idx.Digest()
	if err != nil {
		return "", err
	}
	ociTar := filepath.Join(o.out, "xr-webhook_"+ociimage.Tag(o.version)+".oci.tar")
	if err := ociimage.WriteOCIArchive(idx, ref, opts.Created, ociTar); err != nil {
		return "", err
	}
	dockerTars, err := ociimage.WriteDockerArchives(idx, ref, o.out)
	if err != nil {
		return "", err
	}
	for _, path := range append([]string{ociTar}, dockerTars...) {
		fmt.Fprintf(os.Stderr, "image: wrote %s\n", path)
	}
	if pushTo != nil {
		pushed, err := ociimage.Push(idx, pushTo, remote.WithAuthFromKeychain(authn.DefaultKeychain))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(os.Stderr, "image: pushed %s\n", pushed)
	}
	return fmt.Sprintf("%s@%s", ref, digest), nil
}

// goBuild cross-builds the static command cmd (xr-webhook, xr-capi-peerer) for platform:
// no cgo, no paths or build ids that differ between machines, the version stamped in as
// make build does.
func goBuild(root, cmdName, platform, version, out string) error {
	goos, goarch, ok := strings.Cut(platform, "/")
	if !ok || goos != "linux" {
		return fmt.Errorf("platform %q is not linux/ARCH", platform)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X github.com/kubexr/kubectl-xr/internal/version.Version="+version,
		"-o", out, "./cmd/"+cmdName)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w", cmdName, platform, err)
	}
	return nil
}
