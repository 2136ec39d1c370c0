// Command xr-webhook serves the kubectl-xr admission webhooks and runs the latency
// observer (package webhook) in one controller-runtime manager.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/kubexr/kubectl-xr/internal/serving"
	"github.com/kubexr/kubectl-xr/internal/version"
	"github.com/kubexr/kubectl-xr/webhook"
)

// options are the command-line flags.
type options struct {
	metricsAddr, probeAddr string
	metricsSecure          bool
	webhookHost            string
	webhookPort            int
	certDir                string
	leaderElect            bool
	namespace              string
	certRotation           bool
	certSecret, service    string
	configName             string
	movesPerMinute         int
	drain                  time.Duration
	showVersion            bool
	pprofAddr              string
}

func parseFlags(args []string, zapOpts *zap.Options) (options, error) {
	var o options
	fs := flag.NewFlagSet("xr-webhook", flag.ContinueOnError)
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443", "address of /metrics (\"0\" disables)")
	fs.BoolVar(&o.metricsSecure, "metrics-secure", true, "serve /metrics over HTTPS to authenticated, authorized clients only (get on /metrics); false serves plain HTTP and needs a loopback --metrics-bind-address")
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
	fs.DurationVar(&o.drain, "drain", webhook.DefaultDrain, "on SIGTERM, keep serving this long with every reply closing its connection, so the API server moves to the other replicas before the server stops (keep preStop sleep + drain under terminationGracePeriodSeconds)")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "0", "address of Go's /debug/pprof/ profiles, for diagnosing memory and CPU; loopback only (\"0\" disables)")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.showVersion { // nothing else is needed to say which build this is
		return o, nil
	}
	if o.movesPerMinute < 1 {
		return o, fmt.Errorf("--max-moves-per-minute %d: must be at least 1 (use kubexr.io/move: never to stop moves)", o.movesPerMinute)
	}
	if !o.metricsSecure && o.metricsAddr != "0" && !serving.Loopback(o.metricsAddr) {
		return o, fmt.Errorf("--metrics-secure=false with --metrics-bind-address %q: plain-HTTP metrics must be bound to 127.0.0.1, ::1 or localhost (or use --metrics-secure)", o.metricsAddr)
	}
	if o.pprofAddr != "0" && !serving.Loopback(o.pprofAddr) {
		return o, fmt.Errorf("--pprof-bind-address %q: profiles are served without authentication, so only on 127.0.0.1, ::1 or localhost (\"0\" disables)", o.pprofAddr)
	}
	if o.drain < 0 || o.drain > time.Minute {
		return o, fmt.Errorf("--drain %s: must be between 0s and 1m (it must fit in the pod's terminationGracePeriodSeconds)", o.drain)
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
		Scheme:                 webhook.NewScheme(),
		Cache:                  webhook.CacheOptions(),
		Metrics:                serving.MetricsOptions(o.metricsAddr, o.metricsSecure),
		HealthProbeBindAddress: o.probeAddr,
		PprofBindAddress:       o.pprofAddr,
		// No manager-wide election: controller-runtime exits the process when the lease is
		// lost, which would take the admission server down with it. webhook.Setup runs its
		// own election for the leader-only work (Options.LeaderElection).
		LeaderElection: false,
		WebhookServer: crwebhook.NewServer(crwebhook.Options{
			Host: o.webhookHost, Port: o.webhookPort, CertDir: o.certDir, TLSOpts: webhook.TLSOptions(),
		}),
	})
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	opts := webhook.Options{MovesPerMinute: o.movesPerMinute}
	if o.leaderElect {
		opts.LeaderElection = &webhook.LeaderElection{Namespace: o.namespace, ID: "xr-webhook.kubexr.io"}
	}
	w, err := webhook.Setup(ctx, mgr, opts)
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
	// Serve as soon as the serving certificate is on disk, not once cert-controller has
	// also put its CA into the webhook configurations (certsReady): kubectl xr install
	// applies those only after this Deployment is available, with the CA copied from
	// the Secret, so that they never point at replicas that cannot answer.
	var servable <-chan struct{} = certsReady
	if o.certRotation {
		servable = keyPairLoaded(ctx, o.certDir)
	}
	go func() {
		select {
		case <-servable:
			w.Serve(mgr)
		case <-ctx.Done():
		}
	}()
	// The manager (and with it the webhook server) stops --drain after the signal; the
	// replica drains its connections in between (webhook.drainer says why).
	runCtx, stop := w.StopAfterDrain(ctx, o.drain)
	defer stop()
	return mgr.Start(runCtx)
}

// keyPairLoaded is closed once dir holds a serving key pair that loads (the kubelet
// writes the Secret's keys there after the rotator filled it).
func keyPairLoaded(ctx context.Context, dir string) <-chan struct{} {
	loaded := make(chan struct{})
	go func() {
		for {
			if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")); err == nil {
				close(loaded)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return loaded
}
