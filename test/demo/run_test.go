package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClearDemoDirOnlyClearsDemoFolders(t *testing.T) {
	root := t.TempDir()
	precious := filepath.Join(root, "precious")
	if err := os.MkdirAll(precious, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(precious, "notes.txt"), []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := clearDemoDir(precious); err == nil || !strings.Contains(err.Error(), "not a demo folder") {
		t.Fatalf("clearDemoDir on a foreign folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(precious, "notes.txt")); err != nil {
		t.Fatalf("a foreign folder lost its file: %v", err)
	}

	demo := filepath.Join(root, "demo")
	if err := os.MkdirAll(filepath.Join(demo, "clusters"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath(demo), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := clearDemoDir(demo); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(demo); !os.IsNotExist(err) {
		t.Fatalf("an earlier demo folder was not cleared: %v", err)
	}
	if err := clearDemoDir(filepath.Join(root, "absent")); err != nil {
		t.Fatalf("an absent folder: %v", err)
	}
}
