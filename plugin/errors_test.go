package plugin_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubexr/kubectl-xr/plugin"
	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// Errors a user meets: one line saying what happened and what to do, non-zero exit.
func TestUserErrorsAreOneLine(t *testing.T) {
	if err := env.c.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "errors"}}); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		args []string
		want string
	}{
		"unknown context":   {[]string{"--context", "nowhere", "classes"}, `context "nowhere" does not exist`},
		"unknown namespace": {[]string{"offload", "nowhere"}, `namespace "nowhere" not found: create it first`},
		"bad move":          {[]string{"offload", "errors", "--move", "sometimes"}, `--move "sometimes" is not a move policy: use auto (move pods off a cluster that leaves their bound) or never`},
		"unknown resource":  {[]string{"explain", "-n", "errors", "deploy/nope"}, `deployments.apps "nope" not found`},
		"unknown kind":      {[]string{"explain", "frobs/x"}, `the server doesn't have a resource type "frobs"`},
		"forbidden by RBAC": {[]string{"--as", "someone", "hint", "ns/errors", "--class", "low"}, `User "someone" cannot`},
		"webhook missing":   {[]string{"doctor"}, "some checks failed (see above)"},
		"bad output":        {[]string{"peer", "list", "-o", "xml"}, `unable to match a printer suitable for the output format "xml", allowed formats are: custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,kyaml,name,template,templatefile,wide,yaml`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { oneLineError(t, tc.want, tc.args...) })
	}
}

// A provider without Liqo: peer add says so in one line.
func TestPeerWithAClusterWithoutLiqo(t *testing.T) {
	plain, err := env.sb.StartCluster(context.Background(), sandbox.ClusterOptions{Name: "no-liqo"})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Stop()
	oneLineError(t, "read the provider's Liqo cluster id (is Liqo installed there?)",
		"peer", "add", "--remote-kubeconfig", plain.KubeconfigPath)
}

// Without any kubeconfig the error names the problem.
func TestMissingKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", "/nonexistent/kubeconfig")
	t.Setenv("HOME", t.TempDir())
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	if err := plugin.Execute(streams, []string{"classes"}); err == nil {
		t.Fatal("classes without a kubeconfig succeeded")
	}
	if got, want := errOut.String(), "error: no kubeconfig found: set KUBECONFIG, pass --kubeconfig, or create ~/.kube/config\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
}
