// Package xrwebhook runs xr-webhook in-process (Start) or as its own binary (StartBinary)
// against a sandbox cluster, as installed by
// manifests/default: every object of the manifests is applied, the manager runs as
// xr-webhook's ServiceAccount (impersonated, so the manifests' RBAC is all it has) and
// serves TLS on 127.0.0.1 with a certificate from the cluster's CA, and the manifests'
// webhook configurations are applied with only their clientConfig pointed there. The
// kube-apiserver calls it for real.
package xrwebhook

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/webhook"
)

// The webhook's namespace, ServiceAccount and leader Lease in manifests/webhook.
const (
	Namespace      = "kubexr-system"
	ServiceAccount = "system:serviceaccount:kubexr-system:xr-webhook"
	LeaseName      = "xr-webhook.kubexr.io"
)

// Running is an in-process xr-webhook.
type Running struct {
	Webhook  *webhook.Webhook
	Metrics  *webhook.Metrics
	Registry *prometheus.Registry
	// Port serves the admission handlers over TLS on 127.0.0.1; CA is the PEM that signs it.
	Port int
	CA   []byte
	// Drain is how long Stop drains before the server stops, as xr-webhook does on
	// SIGTERM (webhook.Webhook.StopAfterDrain); zero stops at once.
	Drain time.Duration

	stop  func()
	start func(context.Context) error
}

// Stop stops the manager and waits for it (call before the API server stops). Stopping
// twice is harmless.
func (r *Running) Stop() {
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
}

// Restart starts a stopped xr-webhook again on the same port, with the webhook
// configurations untouched: a replica coming back after an outage. It returns once
// /readyz passes.
func (r *Running) Restart(ctx context.Context) error { return r.start(ctx) }

// ManifestsDir is the repository's manifests/<name> folder.
func ManifestsDir(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "manifests", name)
}

// Start applies manifests/default to c and runs xr-webhook until Stop; extra registers
// more handlers on its webhook server (nil for none). It returns once /readyz passes.
func Start(ctx context.Context, sb *sandbox.Sandbox, c *sandbox.Cluster, extra func(ctrl.Manager)) (*Running, error) {
	return StartWith(ctx, sb, c, extra, webhook.Options{})
}

// StartWith is Start with webhook options (its Metrics are always a fresh registry's).
func StartWith(ctx context.Context, sb *sandbox.Sandbox, c *sandbox.Cluster, extra func(ctrl.Manager), opts webhook.Options) (*Running, error) {
	return StartVia(ctx, sb, c, "", extra, opts)
}

// StartVia is StartWith with xr-webhook's own API connection going to apiServer
// (host:port, e.g. a sandbox.CuttableProxy; "" for the cluster's address). The webhook
// configurations still point the API server straight at xr-webhook.
func StartVia(ctx context.Context, sb *sandbox.Sandbox, c *sandbox.Cluster, apiServer string, extra func(ctrl.Manager), opts webhook.Options) (*Running, error) {
	configs, err := applyManifests(ctx, sb, c)
	if err != nil {
		return nil, err
	}
	r := &Running{}
	if r.Port, err = sandbox.FreePort(); err != nil {
		return nil, err
	}
	if r.CA, err = os.ReadFile(c.PKI.CACert); err != nil {
		return nil, err
	}
	r.start = func(ctx context.Context) error { return r.startManager(ctx, c, apiServer, extra, opts) }
	if err := r.start(ctx); err != nil {
		return nil, err
	}
	if err := applyConfigs(ctx, c, configs, r.Port, r.CA); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

// applyManifests applies every object of manifests/default but the webhook
// configurations, which it returns: they must wait until the server answers.
func applyManifests(ctx context.Context, sb *sandbox.Sandbox, c *sandbox.Cluster) ([]*unstructured.Unstructured, error) {
	objs, err := sb.Kustomize(ManifestsDir("default"))
	if err != nil {
		return nil, err
	}
	var configs []*unstructured.Unstructured
	for _, o := range objs {
		if k := o.GetKind(); k == "MutatingWebhookConfiguration" || k == "ValidatingWebhookConfiguration" {
			configs = append(configs, o)
			continue
		}
		if err := c.Apply(ctx, o); err != nil {
			return nil, err
		}
	}
	return configs, nil
}

// applyConfigs applies the webhook configurations pointed at https://127.0.0.1:port.
func applyConfigs(ctx context.Context, c *sandbox.Cluster, configs []*unstructured.Unstructured, port int, ca []byte) error {
	for _, o := range configs {
		if err := sandbox.PointWebhooksAt(o, port, ca); err != nil {
			return err
		}
		if err := c.Apply(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// servingCerts writes tls.crt/tls.key for 127.0.0.1, signed by the cluster's CA, into
// <cluster>/xr-webhook-certs.
func servingCerts(c *sandbox.Cluster) (string, error) {
	certDir := filepath.Join(c.Dir, "xr-webhook-certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return "", err
	}
	certFile, keyFile, err := c.PKI.Issue("xr-webhook", "xr-webhook", nil, []string{"localhost"},
		[]net.IP{net.ParseIP("127.0.0.1")}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return "", err
	}
	for src, dst := range map[string]string{certFile: "tls.crt", keyFile: "tls.key"} {
		data, err := os.ReadFile(src)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(certDir, dst), data, 0o600); err != nil {
			return "", err
		}
	}
	return certDir, nil
}

// waitReady polls /readyz on 127.0.0.1:probePort for up to a minute, or until exited
// (nil for in-process) reports the server gone.
func waitReady(probePort int, exited func() (bool, string)) error {
	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if exited != nil {
			if gone, why := exited(); gone {
				return fmt.Errorf("xr-webhook never became ready: %s", why)
			}
		}
		resp, err := http.Get(readyz)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("xr-webhook /readyz not OK after 60s (last: %v)", err)
		}
	}
}

func (r *Running) startManager(ctx context.Context, c *sandbox.Cluster, apiServer string, extra func(ctrl.Manager), opts webhook.Options) error {
	certDir, err := servingCerts(c)
	if err != nil {
		return err
	}
	probePort, err := sandbox.FreePort()
	if err != nil {
		return err
	}
	cfg := rest.CopyConfig(c.Config)
	if apiServer != "" {
		cfg.Host = "https://" + apiServer
	}
	cfg.Impersonate = rest.ImpersonationConfig{UserName: ServiceAccount,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + Namespace, "system:authenticated"}}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 webhook.NewScheme(),
		Cache:                  webhook.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: fmt.Sprintf("127.0.0.1:%d", probePort),
		WebhookServer:          crwebhook.NewServer(crwebhook.Options{Host: "127.0.0.1", Port: r.Port, CertDir: certDir, TLSOpts: webhook.TLSOptions()}),
		// Tests may run several xr-webhooks in one process (one per cluster); controller
		// names are unique per process otherwise.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return err
	}
	r.Registry = prometheus.NewRegistry()
	r.Metrics = webhook.NewMetrics(r.Registry)
	opts.Metrics = r.Metrics
	if opts.LeaderElection == nil {
		opts.LeaderElection = &webhook.LeaderElection{Namespace: Namespace, ID: LeaseName}
	}
	if r.Webhook, err = webhook.Setup(ctx, mgr, opts); err != nil {
		return err
	}
	r.Webhook.Serve(mgr)
	if extra != nil {
		extra(mgr)
	}
	signalCtx, signal := context.WithCancel(ctx)
	runCtx, release := r.Webhook.StopAfterDrain(signalCtx, r.Drain)
	done := make(chan struct{})
	var startErr error
	go func() {
		defer close(done)
		if startErr = mgr.Start(runCtx); startErr != nil {
			fmt.Fprintln(os.Stderr, "xr-webhook manager:", startErr)
		}
	}()
	r.stop = func() { signal(); <-done; release() }
	exited := func() (bool, string) {
		select {
		case <-done:
			return true, fmt.Sprintf("the manager stopped: %v", startErr)
		default:
			return false, ""
		}
	}
	if err := waitReady(probePort, exited); err != nil {
		r.Stop()
		return err
	}
	return nil
}
