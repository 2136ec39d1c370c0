package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/webhook"
)

// xr-webhook as deployed by manifests/default, with its own certificate rotation, as its
// ServiceAccount: it fills its Secret, injects the CA into its two webhook
// configurations and serves the rotated certificate once the Secret is mounted.
func TestRunRotatesCertificatesAndBecomesReady(t *testing.T) {
	sb := sandbox.NewForTest(t)
	c := sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: "rotation"})
	ctx := context.Background()
	objs, err := sb.Kustomize(filepath.Join("..", "..", "manifests", "default"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ctx, objs...); err != nil {
		t.Fatal(err)
	}

	// A kubeconfig impersonating the ServiceAccount: the manifests' RBAC is all it has.
	kc, err := c.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	auth := kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo]
	auth.Impersonate = "system:serviceaccount:kubexr-system:xr-webhook"
	auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:kubexr-system", "system:authenticated"}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kubeconfig)

	probePort, _ := sandbox.FreePort()
	webhookPort, _ := sandbox.FreePort()
	metricsPort, _ := sandbox.FreePort()
	certDir := t.TempDir()
	o, err := parseFlags([]string{
		"--namespace=kubexr-system", fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probePort),
		"--webhook-host=127.0.0.1", fmt.Sprintf("--webhook-port=%d", webhookPort),
		"--cert-dir=" + certDir,
	}, &zap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(runCtx, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v after cancel, want nil", err)
		}
	})

	secret := &corev1.Secret{}
	waitUntil(t, "the rotator to fill xr-webhook-tls", func() bool {
		err := c.Client.Get(ctx, client.ObjectKey{Namespace: "kubexr-system", Name: "xr-webhook-tls"}, secret)
		return err == nil && len(secret.Data["tls.crt"]) > 0 && len(secret.Data["ca.crt"]) > 0
	})
	waitUntil(t, "the CA injected into both webhook configurations", func() bool {
		m := &admissionregistrationv1.MutatingWebhookConfiguration{}
		v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if c.Client.Get(ctx, client.ObjectKey{Name: "xr-webhook"}, m) != nil || c.Client.Get(ctx, client.ObjectKey{Name: "xr-webhook"}, v) != nil {
			return false
		}
		for _, w := range m.Webhooks {
			if string(w.ClientConfig.CABundle) != string(secret.Data["ca.crt"]) {
				return false
			}
		}
		for _, w := range v.Webhooks {
			if string(w.ClientConfig.CABundle) != string(secret.Data["ca.crt"]) {
				return false
			}
		}
		return true
	})
	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort)
	if code := get(readyz); code == http.StatusOK {
		t.Errorf("/readyz is OK before the certificate is mounted")
	}

	// Stand in for the kubelet's Secret volume.
	for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if err := os.WriteFile(filepath.Join(certDir, k), secret.Data[k], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "/readyz OK", func() bool { return get(readyz) == http.StatusOK })

	// The webhook serves the rotated certificate for its Service name.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(secret.Data["ca.crt"])
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", webhookPort),
		&tls.Config{RootCAs: pool, ServerName: "xr-webhook.kubexr-system.svc", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS to the webhook with the injected CA: %v", err)
	}
	conn.Close()

	// TLS 1.2 at least, and HTTP/1.1 only (no HTTP/2: rapid-reset advice).
	addr := fmt.Sprintf("127.0.0.1:%d", webhookPort)
	if old, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "xr-webhook.kubexr-system.svc",
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		old.Close()
		t.Error("the webhook server accepted TLS 1.1")
	}
	h2, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "xr-webhook.kubexr-system.svc",
		MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := h2.ConnectionState().NegotiatedProtocol; p == "h2" {
		t.Error("the webhook server negotiated HTTP/2")
	}
	h2.Close()

	// /metrics: HTTPS, and only for an authenticated client allowed to get /metrics.
	metricsURL := fmt.Sprintf("https://127.0.0.1:%d/metrics", metricsPort)
	cs := kubernetes.NewForConfigOrDie(c.Config)
	for _, sa := range []string{"scraper", "nobody"} {
		if _, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Client.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "scraper-metrics"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "xr-webhook-metrics-reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "scraper", Namespace: "default"}}}); err != nil {
		t.Fatal(err)
	}
	token := func(sa string) string {
		tr, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	scrape := func(bearer string) int {
		// The metrics certificate is self-signed by controller-runtime: the test checks who
		// may read, not the certificate.
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}} //nolint:gosec // see above
		req, _ := http.NewRequest(http.MethodGet, metricsURL, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", metricsURL, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)); code == http.StatusOK {
		t.Error("/metrics answered plain HTTP")
	}
	for who, want := range map[string]int{"": http.StatusUnauthorized, "nobody": http.StatusForbidden, "scraper": http.StatusOK} {
		bearer := ""
		if who != "" {
			bearer = token(who)
		}
		var code int
		waitUntil(t, fmt.Sprintf("/metrics for %q to answer %d", who, want), func() bool { code = scrape(bearer); return code == want })
	}
}

func TestPlainMetricsOnlyOnLoopback(t *testing.T) {
	if _, err := parseFlags([]string{"--namespace", "x", "--metrics-secure=false", "--metrics-bind-address", "127.0.0.1:8080"}, &zap.Options{}); err != nil {
		t.Errorf("plain metrics on 127.0.0.1: %v", err)
	}
	_, err := parseFlags([]string{"--namespace", "x", "--metrics-secure=false", "--metrics-bind-address", ":8080"}, &zap.Options{})
	want := `--metrics-secure=false with --metrics-bind-address ":8080": plain-HTTP metrics must be bound to 127.0.0.1, ::1 or localhost (or use --metrics-secure)`
	if err == nil || err.Error() != want {
		t.Errorf("parseFlags() error = %v, want %q", err, want)
	}
}

func TestPprofOnlyOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr, wantErr string
	}{
		{addr: "0"},
		{addr: "127.0.0.1:6060"},
		{addr: "localhost:6060"},
		{addr: ":6060", wantErr: `--pprof-bind-address ":6060": profiles are served without authentication, so only on 127.0.0.1, ::1 or localhost ("0" disables)`},
		{addr: "0.0.0.0:6060", wantErr: `--pprof-bind-address "0.0.0.0:6060": profiles are served without authentication, so only on 127.0.0.1, ::1 or localhost ("0" disables)`},
	} {
		o, err := parseFlags([]string{"--namespace", "x", "--pprof-bind-address", tc.addr}, &zap.Options{})
		switch {
		case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
			t.Errorf("--pprof-bind-address %q: error = %v, want %q", tc.addr, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || o.pprofAddr != tc.addr):
			t.Errorf("--pprof-bind-address %q: got %q, %v", tc.addr, o.pprofAddr, err)
		}
	}
}

func TestDrainFlag(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    time.Duration
		wantErr string
	}{
		{args: nil, want: webhook.DefaultDrain},
		{args: []string{"--drain", "0s"}, want: 0},
		{args: []string{"--drain", "10s"}, want: 10 * time.Second},
		{args: []string{"--drain", "-1s"}, wantErr: "--drain -1s: must be between 0s and 1m (it must fit in the pod's terminationGracePeriodSeconds)"},
		{args: []string{"--drain", "2m"}, wantErr: "--drain 2m0s: must be between 0s and 1m (it must fit in the pod's terminationGracePeriodSeconds)"},
	} {
		o, err := parseFlags(append([]string{"--namespace", "x"}, tc.args...), &zap.Options{})
		switch {
		case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
			t.Errorf("parseFlags(%q) error = %v, want %q", tc.args, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || o.drain != tc.want):
			t.Errorf("parseFlags(%q) = drain %s, %v; want %s", tc.args, o.drain, err, tc.want)
		}
	}
}

func get(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestFlagErrorsAreOneLine(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "")
	_, err := parseFlags(nil, &zap.Options{})
	want := "--namespace (or the POD_NAMESPACE env) is required with --leader-elect or --cert-rotation"
	if err == nil || err.Error() != want {
		t.Errorf("parseFlags() error = %v, want %q", err, want)
	}
	// --version needs nothing else: an image run with it alone says which build it is.
	if o, err := parseFlags([]string{"--version"}, &zap.Options{}); err != nil || !o.showVersion {
		t.Errorf("parseFlags(--version) without a namespace: %+v, %v", o, err)
	}
}

func TestMovesPerMinuteFlag(t *testing.T) {
	o, err := parseFlags([]string{"--namespace", "x"}, &zap.Options{})
	if err != nil || o.movesPerMinute != 10 {
		t.Errorf("default --max-moves-per-minute = %d (%v), want 10", o.movesPerMinute, err)
	}
	_, err = parseFlags([]string{"--namespace", "x", "--max-moves-per-minute", "0"}, &zap.Options{})
	want := "--max-moves-per-minute 0: must be at least 1 (use kubexr.io/move: never to stop moves)"
	if err == nil || err.Error() != want {
		t.Errorf("parseFlags() error = %v, want %q", err, want)
	}
}
