//go:build ignore

// zip writes a .zip archive of files from a folder (used by hack/dist.sh for windows;
// the machine may have no zip command). Usage: go run hack/zip.go OUT -C DIR FILE...
package main

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) < 5 || os.Args[2] != "-C" {
		fmt.Fprintln(os.Stderr, "usage: go run hack/zip.go OUT -C DIR FILE...")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[3], os.Args[4:]); err != nil {
		fmt.Fprintln(os.Stderr, "zip:", err)
		os.Exit(1)
	}
}

func run(out, dir string, files []string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := zip.NewWriter(f)
	for _, name := range files {
		src, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		info, err := src.Stat()
		if err != nil {
			return err
		}
		hdr, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		hdr.Method = zip.Deflate
		dst, err := w.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := io.Copy(dst, src); err != nil {
			return err
		}
		src.Close()
	}
	return w.Close()
}
