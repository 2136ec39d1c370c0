// Command xr-capi-peerer peers Cluster API clusters with the Liqo consumer automatically
// (package internal/capipeer): a Cluster selected by its labels joins once provisioned
// with its control plane available, and leaves when deleted or no longer selected.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pterm/pterm"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kubexr/kubectl-xr/internal/capipeer"
	"github.com/kubexr/kubectl-xr/internal/peering"
	"github.com/kubexr/kubectl-xr/internal/serving"
	"github.com/kubexr/kubectl-xr/internal/version"
)

// options are the command-line flags.
type options struct {
	metricsAddr, probeAddr        string
	metricsSecure, leaderElect    bool
	namespace                     string
	selector                      string
	namespaces                    []string
	consumerKubeconfig            string
	liqoNamespace, remoteLiqoNS   string
	peeringTimeout, unpeerTimeout time.Duration
	resync                        time.Duration
	workers                       int
	showVersion                   bool

	sel labels.Selector
}

func parseFlags(args []string, zapOpts *zap.Options) (options, error) {
	var o options
	var namespaces string
	fs := flag.NewFlagSet("xr-capi-peerer", flag.ContinueOnError)
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443", "address of /metrics (\"0\" disables)")
	fs.BoolVar(&o.metricsSecure, "metrics-secure", true, "serve /metrics over HTTPS to authenticated, authorized clients only (get on /metrics); false serves plain HTTP and needs a loopback --metrics-bind-address")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.BoolVar(&o.leaderElect, "leader-elect", true, "elect one replica to act (the others wait)")
	fs.StringVar(&o.namespace, "namespace", os.Getenv("POD_NAMESPACE"), "namespace of xr-capi-peerer (its leader lease)")
	fs.StringVar(&o.selector, "selector", capipeer.DefaultSelector, "label selector of the Cluster API Clusters to peer")
	fs.StringVar(&namespaces, "namespaces", "", "comma-separated namespaces whose Clusters are peered (default: every namespace)")
	fs.StringVar(&o.consumerKubeconfig, "consumer-kubeconfig", "", "kubeconfig of the Liqo consumer when it is not the management cluster this runs against")
	fs.StringVar(&o.liqoNamespace, "liqo-namespace", peering.DefaultLiqoNamespace, "namespace of Liqo in the consumer")
	fs.StringVar(&o.remoteLiqoNS, "remote-liqo-namespace", "", "namespace of Liqo in the Cluster API clusters (default: --liqo-namespace)")
	fs.DurationVar(&o.peeringTimeout, "peering-timeout", 10*time.Minute, "timeout of one peering or unpeering")
	fs.DurationVar(&o.unpeerTimeout, "deleted-unpeer-timeout", 30*time.Second, "how long a deleted Cluster's unpeering may try to reach it before its consumer side is removed alone")
	fs.DurationVar(&o.resync, "resync", 10*time.Minute, "how often a peered Cluster's peering is checked again")
	fs.IntVar(&o.workers, "concurrent-peerings", 4, "Clusters peered or unpeered at once")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.showVersion {
		return o, nil
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: xr-capi-peerer takes flags only (--help lists them)", fs.Arg(0))
	}
	var err error
	if o.sel, err = labels.Parse(o.selector); err != nil || o.sel.Empty() {
		return o, fmt.Errorf("--selector %q: must be a non-empty label selector such as %s", o.selector, capipeer.DefaultSelector)
	}
	for _, ns := range strings.Split(namespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			o.namespaces = append(o.namespaces, ns)
		}
	}
	switch {
	case o.workers < 1:
		return o, fmt.Errorf("--concurrent-peerings %d: must be at least 1", o.workers)
	case o.peeringTimeout <= 0 || o.unpeerTimeout <= 0 || o.resync <= 0:
		return o, errors.New("--peering-timeout, --deleted-unpeer-timeout and --resync must be positive durations such as 30s")
	case !o.metricsSecure && o.metricsAddr != "0" && !serving.Loopback(o.metricsAddr):
		return o, fmt.Errorf("--metrics-secure=false with --metrics-bind-address %q: plain-HTTP metrics must be bound to 127.0.0.1, ::1 or localhost (or use --metrics-secure)", o.metricsAddr)
	case o.leaderElect && o.namespace == "":
		return o, errors.New("--namespace (or the POD_NAMESPACE env) is required with --leader-elect")
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
		fmt.Fprintf(os.Stderr, "xr-capi-peerer: %v\n", err)
		os.Exit(2)
	}
	if o.showVersion {
		fmt.Printf("xr-capi-peerer %s\n", version.Version)
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	// Liqo's peering code reports through pterm: one plain line per step in a log, no
	// colours and no spinner animation (a spinner would redraw its line every 100 ms).
	pterm.DisableStyling()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "xr-capi-peerer: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	consumer := cfg
	if o.consumerKubeconfig != "" {
		if consumer, err = clientcmd.BuildConfigFromFlags("", o.consumerKubeconfig); err != nil {
			return fmt.Errorf("--consumer-kubeconfig: %w", err)
		}
	}
	scheme := capipeer.NewScheme()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   capipeer.CacheOptions(o.namespaces),
		Metrics:                 serving.MetricsOptions(o.metricsAddr, o.metricsSecure),
		HealthProbeBindAddress:  o.probeAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        "xr-capi-peerer.kubexr.io",
		LeaderElectionNamespace: o.namespace,
		// A new leader must not peer while the old one may still be unpeering.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	consumerClient, err := client.New(rest.CopyConfig(consumer), client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("consumer client: %w", err)
	}
	r := &capipeer.Reconciler{
		Client: mgr.GetClient(), Secrets: mgr.GetAPIReader(),
		Consumer: consumer, ConsumerClient: consumerClient, Scheme: scheme,
		Selector: o.sel, Namespaces: o.namespaces,
		Peering: peering.Options{LiqoNamespace: o.liqoNamespace, RemoteLiqoNamespace: o.remoteLiqoNS,
			Timeout: o.peeringTimeout, Log: os.Stderr},
		UnpeerTimeout: o.unpeerTimeout, Resync: o.resync,
		Recorder: mgr.GetEventRecorder(capipeer.FieldOwner), Metrics: capipeer.NewMetrics(metrics.Registry),
	}
	if err := capipeer.Setup(mgr, r, o.workers); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("healthz: %w", err)
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("readyz: %w", err)
	}
	return mgr.Start(ctx)
}
