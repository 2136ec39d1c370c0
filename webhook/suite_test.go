package webhook_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
	"github.com/kubexr/kubectl-xr/webhook"
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
	sb, cleanup, err := sandbox.NewForMain("xr-webhook-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	defer cleanup()
	env.sb = sb
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := 1
	defer func() {
		if env.stopManager != nil {
			env.stopManager()
		}
	}()
	if err := setup(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		sb.DumpLogs(stderrLogger{})
	} else {
		code = m.Run()
	}
	return code
}

type stderrLogger struct{}

func (stderrLogger) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func setup(ctx context.Context) error {
	start := time.Now()
	c, err := env.sb.StartCluster(ctx, sandbox.ClusterOptions{Name: "consumer", Scheduler: true, Kwok: true,
		Controllers: []string{"deployment", "replicaset", "job", "cronjob", "statefulset", "daemonset", "disruption"}})
	if err != nil {
		return err
	}
	env.c = c
	fmt.Printf("sandbox: cluster with scheduler and kwok started in %s\n", time.Since(start).Round(time.Millisecond))

	run, err := xrwebhook.Start(ctx, env.sb, c, serveLiqoWebhook)
	if err != nil {
		return err
	}
	env.stopManager = run.Stop
	env.wh, env.metrics, env.registry, env.port, env.ca = run.Webhook, run.Metrics, run.Registry, run.Port, run.CA
	for name, labels := range map[string]map[string]string{"local-1": {"zone": "edge"}, "local-2": nil} {
		if _, err := c.AddNode(ctx, name, labels); err != nil {
			return err
		}
	}
	fmt.Printf("sandbox: xr-webhook ready in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}
