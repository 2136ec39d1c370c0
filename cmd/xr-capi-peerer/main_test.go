package main

import (
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// TestParseFlags: good flags parse; each mistake is one line saying what is accepted.
func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--namespace=kubexr-system"}, ""},
		{[]string{"--leader-elect=false", "--namespaces=fleet, edge", "--selector=tier in (edge,cloud)"}, ""},
		{[]string{"--leader-elect=false", "--selector="}, `--selector "": must be a non-empty label selector such as kubexr.io/peer=true`},
		{[]string{"--leader-elect=false", "--selector=tier in edge"}, `--selector "tier in edge": must be a non-empty label selector`},
		{[]string{"--leader-elect=false", "--concurrent-peerings=0"}, "--concurrent-peerings 0: must be at least 1"},
		{[]string{"--leader-elect=false", "--resync=0s"}, "must be positive durations"},
		{[]string{"--leader-elect=false", "--metrics-secure=false"}, `plain-HTTP metrics must be bound to 127.0.0.1`},
		{[]string{"--leader-elect=true", "--namespace="}, "--namespace (or the POD_NAMESPACE env) is required with --leader-elect"},
		{[]string{"--leader-elect=false", "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv("POD_NAMESPACE", "")
			o, err := parseFlags(tc.args, &zap.Options{})
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("parseFlags: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n")):
				t.Fatalf("parseFlags: %v, want one line containing %q", err, tc.err)
			case tc.err == "" && len(tc.args) > 1 && strings.Join(o.namespaces, ",") != "fleet,edge":
				t.Errorf("namespaces %v, want [fleet edge]", o.namespaces)
			}
		})
	}
}
