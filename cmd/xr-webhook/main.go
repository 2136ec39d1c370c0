// Command xr-webhook serves the kubectl-xr admission webhooks and runs the latency
// observer (package webhook) in one controller-runtime manager.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/kubexr/kubectl-xr/internal/version"
	"github.com/kubexr/kubectl-xr/webhook"
)

// options are the command-line flags.
type options struct {
	metricsAddr, probeAddr string
	webhookHost            string
	webhookPort            int
	certDir                string
	leaderElect            bool
	namespace              string
	certRotation           bool
	certSecret, service    string
	configName             string
	movesPerMinute         int
	showVersion            bool
}

func parseFlags(args []string, zapOpts *zap.Options) (options, error) {
	var o options
	fs := flag.NewFlagSet("xr-webhook", flag.ContinueOnError)
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of /metrics (\"0\" disables)")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.StringVar(&o.webhookHost, "webhook-host", "", "address the webhook server listens on (default: all)")
	fs.IntVar(&o.webhookPort, "webhook-port", 9443, "port of the admission webhook server")
	fs.StringVar(&o.certDir, "cert-dir", "/tmp/k8s-webhook-server/serving-certs", "folder of tls.crt and tls.key (reloaded on change)")
	fs.BoolVar(&o.leaderElect, "leader-elect", true, "elect one replica to label nodes and emit Events")
	fs.StringVar(&o.namespace, "namespace", os.Getenv("POD_NAMESPACE"), "namespace of xr-webhook (leader lease, certificate Secret)")
	fs.BoolVar(&o.certRotation, "cert-rotation", true, "create and rotate the serving certificate and inject its CA into the webhook configurations (disable when cert-manager does it)")
	fs.StringVar(&o.certSecret, "cert-secret", "xr-webhook-tls", "Secret holding the serving certificate (with --cert-rotation)")
	fs.StringVar(&o.service, "service-name", "xr-webhook", "Service in front of the webhook (the certificate's DNS name)")
	fs.StringVar(&o.configName, "webhook-config-name", "xr-webhook", "name of the Mutating and ValidatingWebhookConfiguration")
	fs.IntVar(&o.movesPerMinute, "max-moves-per-minute", 10, "most pods the mover evicts in any minute, across the cluster")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.movesPerMinute < 1 {
		return o, fmt.Errorf("--max-moves-per-minute %d: must be at least 1 (use kubexr.io/move: never to stop moves)", o.movesPerMinute)
	}
	if (o.leaderElect || o.certRotation) && o.namespace == "" {
		return o, errors.New("--namespace (or the POD_NAMESPACE env) is required with --leader-elect or --cert-rotation")
	}
	return o, nil
}

func main() {
	zapOpts := zap.Options{}
	o, err := parseFlags(os.Args[1:], &zapOpts)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "xr-webhook: %v\n", err)
		os.Exit(2)
	}
	if o.showVersion {
		fmt.Printf("xr-webhook %s\n", version.Version)
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "xr-webhook: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  webhook.NewScheme(),
		Cache:                   webhook.CacheOptions(),
		Metrics:                 metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:  o.probeAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        "xr-webhook.kubexr.io",
		LeaderElectionNamespace: o.namespace,
		WebhookServer: crwebhook.NewServer(crwebhook.Options{
			Host: o.webhookHost, Port: o.webhookPort, CertDir: o.certDir,
		}),
	})
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	w, err := webhook.Setup(ctx, mgr, webhook.Options{MovesPerMinute: o.movesPerMinute})
	if err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("healthz: %w", err)
	}
	certsReady := make(chan struct{})
	if o.certRotation {
		err := rotator.AddRotator(mgr, &rotator.CertRotator{
			SecretKey:      types.NamespacedName{Namespace: o.namespace, Name: o.certSecret},
			CertDir:        o.certDir,
			CAName:         "xr-webhook-ca",
			CAOrganization: "kubexr.io",
			DNSName:        fmt.Sprintf("%s.%s.svc", o.service, o.namespace),
			IsReady:        certsReady,
			FieldOwner:     webhook.FieldOwner,
			Webhooks: []rotator.WebhookInfo{
				{Name: o.configName, Type: rotator.Mutating},
				{Name: o.configName, Type: rotator.Validating},
			},
		})
		if err != nil {
			return fmt.Errorf("certificate rotation: %w", err)
		}
	} else {
		close(certsReady)
	}
	go func() {
		select {
		case <-certsReady:
			w.Serve(mgr)
		case <-ctx.Done():
		}
	}()
	return mgr.Start(ctx)
}
