package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Where the third-party CRDs sit inside their modules (the versions come from go.mod).
var thirdPartyCRDs = []struct{ module, dir string }{
	{"github.com/liqotech/liqo", "deployments/liqo/charts/liqo-crds/crds"},
	{"sigs.k8s.io/cluster-api", "core/config/crd/bases"},
}

func thirdPartyCRDDirs() ([]string, error) {
	dirs := make([]string, 0, len(thirdPartyCRDs))
	for _, c := range thirdPartyCRDs {
		modDir, err := ModuleDir(c.module)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, filepath.Join(modDir, c.dir))
	}
	return dirs, nil
}

// ModuleDir returns the module cache folder of a dependency at the version go.mod requires,
// downloading it through the module proxy if needed.
func ModuleDir(module string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		detail := ""
		if ee, ok := err.(*exec.ExitError); ok {
			detail = string(ee.Stderr)
		}
		return "", fmt.Errorf("locate module %s (go mod download): %w %s", module, err, detail)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("parse go mod download output for %s: %w", module, err)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("module %s not available: %s", module, info.Error)
	}
	if _, err := os.Stat(info.Dir); err != nil {
		return "", fmt.Errorf("module %s: %w", module, err)
	}
	return info.Dir, nil
}

// installCRDs creates every CRD under dirs (and extra files) and waits until they are served.
func installCRDs(cfg *rest.Config, dirs []string) error {
	_, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: dirs, ErrorIfPathMissing: true})
	if err != nil {
		return fmt.Errorf("install CRDs from %v: %w", dirs, err)
	}
	return nil
}
