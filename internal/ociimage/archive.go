package ociimage

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// WriteOCIArchive writes idx as a tar of an OCI image layout, named ref for
// `ctr images import` (io.containerd.image.name) and for OCI tools (the tag as
// org.opencontainers.image.ref.name). Entries are sorted and stamped with created, so
// the same index gives the same bytes.
func WriteOCIArchive(idx v1.ImageIndex, ref name.Tag, created time.Time, path string) error {
	dir, err := os.MkdirTemp("", "xr-webhook-oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          ref.String(),
		"org.opencontainers.image.ref.name": ref.TagStr(),
	})); err != nil {
		return err
	}
	return tarDir(dir, created, path)
}

// tarDir writes the regular files and folders under dir into a tar at path, in
// lexical order (filepath.WalkDir's), root-owned, with every time set to created.
func tarDir(dir string, created time.Time, path string) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(file string, d fs.DirEntry, err error) error {
		if err != nil || file == dir {
			return err
		}
		rel, err := filepath.Rel(dir, file)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: created.UTC(), Mode: 0o644, Typeflag: tar.TypeReg}
		if d.IsDir() {
			hdr.Name, hdr.Mode, hdr.Typeflag = hdr.Name+"/", 0o755, tar.TypeDir
			return tw.WriteHeader(hdr)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr.Size = info.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		src, err := os.Open(file)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// WriteDockerArchives writes one docker-archive per platform of idx (for `docker load`
// and `kind load image-archive`, which take one platform) into dir as
// xr-webhook_<version>_<os>_<arch>.docker.tar, each tagged ref. It returns the paths.
func WriteDockerArchives(idx v1.ImageIndex, ref name.Tag, dir string) ([]string, error) {
	manifest, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, desc := range manifest.Manifests {
		if desc.Platform == nil {
			return nil, fmt.Errorf("image %s names no platform", desc.Digest)
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, fmt.Sprintf("xr-webhook_%s_%s_%s.docker.tar", ref.TagStr(), desc.Platform.OS, desc.Platform.Architecture))
		if err := tarball.WriteToFile(path, ref, img); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// Push uploads idx (every platform's image, then the index) to ref and returns the
// reference by digest it can be pulled back with.
func Push(idx v1.ImageIndex, ref name.Reference, opts ...remote.Option) (name.Digest, error) {
	if err := remote.WriteIndex(ref, idx, opts...); err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", ref, err)
	}
	digest, err := idx.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return ref.Context().Digest(digest.String()), nil
}
