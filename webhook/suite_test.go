package webhook_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/webhook"
)

// The webhook's namespace and ServiceAccount in manifests/webhook.
const (
	webhookNamespace = "kubexr-system"
	webhookSA        = "system:serviceaccount:kubexr-system:xr-webhook"
)

// One cluster per package: etcd, kube-apiserver, kube-scheduler and kwok, with
// manifests/default applied and xr-webhook running in-process as its ServiceAccount
// (impersonated, so the ClusterRole and Role from manifests/ are all it has). The
// kube-apiserver calls it over TLS through the webhook configurations of manifests/,
// with only clientConfig pointed at 127.0.0.1.
var env struct {
	sb       *sandbox.Sandbox
	c        *sandbox.Cluster
	wh       *webhook.Webhook
	metrics  *webhook.Metrics
	registry *prometheus.Registry
	ca       []byte
	port     int

	stopManager func()
}

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "xr-webhook-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	sb, err := sandbox.New(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	env.sb = sb
	defer sb.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := 1
	defer func() {
		if env.stopManager != nil {
			env.stopManager()
		}
	}()
	if err := setup(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		sb.DumpLogs(stderrLogger{})
	} else {
		code = m.Run()
	}
	return code
}

type stderrLogger struct{}

func (stderrLogger) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func setup(ctx context.Context, dir string) error {
	start := time.Now()
	c, err := env.sb.StartCluster(ctx, sandbox.ClusterOptions{Name: "consumer", Scheduler: true, Kwok: true,
		Controllers: []string{"deployment", "replicaset", "job", "cronjob", "statefulset", "daemonset"}})
	if err != nil {
		return err
	}
	env.c = c
	fmt.Printf("sandbox: cluster with scheduler and kwok started in %s\n", time.Since(start).Round(time.Millisecond))

	_, file, _, _ := runtime.Caller(0)
	objs, err := env.sb.Kustomize(filepath.Join(filepath.Dir(file), "..", "manifests", "default"))
	if err != nil {
		return err
	}
	env.port, err = sandbox.FreePort()
	if err != nil {
		return err
	}
	env.ca, err = os.ReadFile(c.PKI.CACert)
	if err != nil {
		return err
	}
	var webhookConfigs []*unstructured.Unstructured
	for _, o := range objs {
		if o.GroupVersionKind().Group == "admissionregistration.k8s.io" {
			webhookConfigs = append(webhookConfigs, o)
			continue
		}
		if err := c.Apply(ctx, o); err != nil {
			return err
		}
	}
	if err := startManager(ctx, dir); err != nil {
		return err
	}
	for _, o := range webhookConfigs {
		if err := pointAtLocal(o); err != nil {
			return err
		}
		if err := c.Apply(ctx, o); err != nil {
			return err
		}
	}
	for name, labels := range map[string]map[string]string{"local-1": {"zone": "edge"}, "local-2": nil} {
		if _, err := c.AddNode(ctx, name, labels); err != nil {
			return err
		}
	}
	fmt.Printf("sandbox: xr-webhook ready in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// startManager runs xr-webhook as cmd/xr-webhook does, impersonating its ServiceAccount,
// and waits until /readyz passes.
func startManager(ctx context.Context, dir string) error {
	certDir := filepath.Join(dir, "webhook-certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	certFile, keyFile, err := env.c.PKI.Issue("xr-webhook", "xr-webhook", nil, []string{"localhost"},
		[]net.IP{net.ParseIP("127.0.0.1")}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return err
	}
	for src, dst := range map[string]string{certFile: "tls.crt", keyFile: "tls.key"} {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(certDir, dst), data, 0o600); err != nil {
			return err
		}
	}
	probePort, err := sandbox.FreePort()
	if err != nil {
		return err
	}
	cfg := rest.CopyConfig(env.c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: webhookSA,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + webhookNamespace, "system:authenticated"}}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  webhook.NewScheme(),
		Cache:                   webhook.CacheOptions(),
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  fmt.Sprintf("127.0.0.1:%d", probePort),
		LeaderElection:          true,
		LeaderElectionID:        "xr-webhook.kubexr.io",
		LeaderElectionNamespace: webhookNamespace,
		WebhookServer: crwebhook.NewServer(crwebhook.Options{
			Host: "127.0.0.1", Port: env.port, CertDir: certDir,
		}),
	})
	if err != nil {
		return err
	}
	env.registry = prometheus.NewRegistry()
	env.metrics = webhook.NewMetrics(env.registry)
	env.wh, err = webhook.Setup(ctx, mgr, webhook.Options{Metrics: env.metrics})
	if err != nil {
		return err
	}
	env.wh.Serve(mgr)
	serveLiqoWebhook(mgr)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	// Stop the manager and wait for it before the API server goes.
	env.stopManager = func() { cancel(); <-done }
	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort)
	deadline := time.Now().Add(60 * time.Second)
	for {
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
		time.Sleep(100 * time.Millisecond)
	}
}

// pointAtLocal replaces each webhook's service reference with the in-process server's URL
// and the sandbox CA; rules, selectors, matchConditions and policies stay as shipped.
func pointAtLocal(o *unstructured.Unstructured) error {
	hooks, _, err := unstructured.NestedSlice(o.Object, "webhooks")
	if err != nil {
		return err
	}
	for i := range hooks {
		h := hooks[i].(map[string]any)
		cc := h["clientConfig"].(map[string]any)
		svc := cc["service"].(map[string]any)
		path, _ := svc["path"].(string)
		h["clientConfig"] = map[string]any{
			"url":      fmt.Sprintf("https://127.0.0.1:%d%s", env.port, path),
			"caBundle": base64.StdEncoding.EncodeToString(env.ca),
		}
	}
	return unstructured.SetNestedSlice(o.Object, hooks, "webhooks")
}
