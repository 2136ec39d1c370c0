package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// The images the demo's real nodes hold (imported, never pulled).
const (
	demoVersion  = "v0.0.0-demo"
	webhookImage = "ghcr.io/kubexr/xr-webhook:" + demoVersion
	// xrAppImage is test/xrapp, the XR test application of render and client.
	xrAppImage = "demo.kubexr.invalid/xr-app:1"
	// nonRoot is the user of the xr-app image, as of xr-webhook's.
	nonRoot = "65532"
)

// realNodesMode says whether the consumer gets real nodes: "" if so, else why not.
func realNodesMode() string {
	if os.Getenv("DEMO_KWOK") == "1" {
		return "DEMO_KWOK=1 asked for it"
	}
	if err := sandbox.RealNodeSupport(); err != nil {
		return err.Error()
	}
	return ""
}

// demoImages builds, for this machine's platform, xr-webhook's image with make image's
// program and the XR test app's image, as OCI archives in dir.
func demoImages(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("go", "run", "./hack/image", "-version", demoVersion, "-revision", "demo", "-created", "0",
		"-platforms", "linux/"+runtime.GOARCH, "-out", dir)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build xr-webhook's image (go run ./hack/image in %s): %w\n%s", root, err, out)
	}
	app, err := sandbox.BuildImage("./test/xrapp", xrAppImage, nonRoot, dir)
	if err != nil {
		return nil, err
	}
	return []string{filepath.Join(dir, "xr-webhook_"+demoVersion+".oci.tar"), app}, nil
}
