package plugin

import (
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubexr/kubectl-xr/internal/version"
)

func TestVersionPrintsBuildVersion(t *testing.T) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	if err := Execute(streams, []string{"version"}); err != nil {
		t.Fatalf("version: %v (stderr %q)", err, errOut.String())
	}
	if got, want := out.String(), "kubectl-xr "+version.Version+"\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

func TestUnknownCommandIsOneErrorLine(t *testing.T) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	if err := Execute(streams, []string{"frobnicate"}); err == nil {
		t.Fatal("unknown command succeeded")
	}
	if out.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", out.String())
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], `error: unknown command "frobnicate"`) {
		t.Errorf("stderr = %q, want one line starting with error: unknown command", errOut.String())
	}
}
