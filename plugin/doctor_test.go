package plugin_test

import (
	"strings"
	"testing"
)

func TestDoctorReportsEachCheckAndFailsWithoutTheWebhook(t *testing.T) {
	out, errOut, err := kubectlXR(t, "doctor")
	if err == nil || strings.TrimSpace(errOut) != "error: some checks failed (see above)" {
		t.Errorf("doctor: err=%v stderr=%q; want it to fail with one line", err, errOut)
	}
	for _, want := range []string{
		"[ok]   Liqo: installed, cluster id consumer",
		"[ok]   LatencyClasses: 5 defined",
		"[fail] xr-webhook: not installed (kubectl xr install)",
		"peer cloud-geneva:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
}

// liqoctl's --liqo-namespace/-l: doctor looks for Liqo where it is told.
func TestDoctorLooksForLiqoInTheLiqoNamespace(t *testing.T) {
	for _, args := range [][]string{{"doctor", "-l", "elsewhere"}, {"doctor", "--liqo-namespace=elsewhere"}} {
		out, _, err := kubectlXR(t, args...)
		if err == nil || !strings.Contains(out, `[fail] Liqo: not installed in namespace "elsewhere"`) {
			t.Errorf("%s: err=%v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out, _, _ := kubectlXR(t, "doctor", "-l", "liqo"); !strings.Contains(out, "[ok]   Liqo: installed, cluster id consumer") {
		t.Errorf("doctor -l liqo:\n%s", out)
	}
}

func TestShellCompletion(t *testing.T) {
	cases := map[string]struct {
		args []string
		want []string
	}{
		"commands":         {[]string{"__complete", ""}, []string{"peer", "offload", "classes", "hint", "explain", "install", "doctor"}},
		"hint kinds":       {[]string{"__complete", "hint", ""}, []string{"deployment/", "namespace/", "cronjob/"}},
		"namespace names":  {[]string{"__complete", "hint", "namespace/"}, []string{"namespace/kube-system", "namespace/liqo"}},
		"class flag":       {[]string{"__complete", "hint", "ns/x", "--class", ""}, []string{"ultra-low", "low", "best-effort"}},
		"offload strategy": {[]string{"__complete", "offload", "x", "--strategy", ""}, []string{"LocalAndRemote", "Remote", "Local"}},
		"flags":            {[]string{"__complete", "peer", "add", "--capi"}, []string{"--capi-cluster", "--capi-selector"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out := mustXR(t, tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w+"\n") && !strings.Contains(out, w+"\t") {
					t.Errorf("completion of %v lacks %q:\n%s", tc.args, w, out)
				}
			}
		})
	}
}
