package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"

	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
)

// daemon is the background sandbox: clusters, links and xr-webhook, driven over a unix
// socket by `xr-demo run`.
type daemon struct {
	sb        *sandbox.Sandbox
	consumer  *sandbox.Cluster
	providers map[string]*sandbox.Cluster
	gateways  bool // false: stand-in latencies
	// life ends when the sandbox stops; stand-in writers stop with it.
	life context.Context

	mu    sync.Mutex
	links map[string]rttSetter
}

// rttSetter is a link whose round trip can change: a real gateway link, or a stand-in.
type rttSetter interface{ SetRTT(time.Duration) error }

func serveSandbox(ctx context.Context, dir, bin string) error {
	if err := os.WriteFile(pidPath(dir), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return err
	}
	defer os.Remove(pidPath(dir))
	defer os.Remove(socketPath(dir))

	sb, err := sandbox.New(filepath.Join(dir, "clusters"))
	if err != nil {
		return err
	}
	d := &daemon{sb: sb, providers: map[string]*sandbox.Cluster{}, links: map[string]rttSetter{}}
	defer sb.Stop()
	st := &state{PID: os.Getpid(), Mode: "gateways", Kubeconfigs: map[string]string{}}
	if err := sandbox.GatewaySupport(); err != nil {
		st.Mode, st.Why = "stand-in", err.Error()
	} else if os.Getenv("DEMO_STAND_IN") == "1" {
		st.Mode, st.Why = "stand-in", "DEMO_STAND_IN=1 asked for it"
	}
	d.gateways = st.Mode == "gateways"
	st.Nodes, st.NodesWhy = "real", realNodesMode()
	var images []string
	if st.NodesWhy == "" {
		fmt.Println("building xr-webhook's image and the XR test app's image")
		if images, err = demoImages(filepath.Join(dir, "images")); err != nil {
			return err
		}
		st.WebhookImage = webhookImage
	} else {
		st.Nodes = "kwok"
	}

	if err := d.startClusters(ctx, images); err != nil {
		return err
	}
	if st.Nodes == "kwok" {
		// The same objects `kubectl xr install` applies; the binary runs here as a
		// process. On real nodes the demo runs `kubectl xr install` itself.
		if _, err := xrwebhook.StartBinary(ctx, sb, d.consumer, filepath.Join(bin, "xr-webhook")); err != nil {
			return fmt.Errorf("start xr-webhook: %w", err)
		}
	}
	st.Kubeconfig = d.consumer.KubeconfigPath
	for name, p := range d.providers {
		st.Kubeconfigs[name] = p.KubeconfigPath
	}

	_ = os.Remove(socketPath(dir))
	l, err := net.Listen("unix", socketPath(dir))
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	srvCtx, stop := context.WithCancel(ctx)
	defer stop()
	d.life = srvCtx
	srv := &http.Server{Handler: d.routes(stop), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	if err := writeState(dir, st); err != nil {
		return err
	}
	fmt.Printf("sandbox ready (%s mode)\n", st.Mode)
	<-srvCtx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	fmt.Println("stopping the sandbox")
	return nil
}

// startClusters starts the consumer, with 2 real nodes holding images if there are any
// (else 2 kwok nodes), and the providers with a kwok node each.
func (d *daemon) startClusters(ctx context.Context, images []string) error {
	consumer := sandbox.ClusterOptions{Name: consumerName, Liqo: true, Kwok: len(images) == 0,
		Controllers: []string{"deployment", "replicaset", "job"}}
	if len(images) > 0 {
		consumer.RealNodes, consumer.Images = 2, images
	}
	opts := []sandbox.ClusterOptions{consumer}
	for _, p := range providers {
		opts = append(opts, sandbox.ClusterOptions{Name: p.Name, Liqo: true, Kwok: true})
	}
	clusters, err := d.sb.StartClusters(ctx, opts...)
	if err != nil {
		return err
	}
	d.consumer = clusters[0]
	for _, n := range kwokLocalNodes(len(images) > 0) {
		if _, err := d.consumer.AddNode(ctx, n, nil); err != nil {
			return err
		}
	}
	for _, p := range clusters[1:] {
		d.providers[p.Name] = p
		if _, err := p.AddNode(ctx, p.Name+"-node", nil); err != nil {
			return err
		}
	}
	return nil
}

func (d *daemon) routes(stop func()) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /connect", func(w http.ResponseWriter, r *http.Request) {
		d.handle(w, r, d.connect)
	})
	mux.HandleFunc("POST /rtt", func(w http.ResponseWriter, r *http.Request) {
		d.handle(w, r, func(ctx context.Context, peer string, rtt time.Duration) (string, error) {
			d.mu.Lock()
			l, ok := d.links[peer]
			d.mu.Unlock()
			if !ok {
				return "", fmt.Errorf("no link to %q: connect it first", peer)
			}
			if err := l.SetRTT(rtt); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s: injected round trip now %v", peer, rtt), nil
		})
	})
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "stopping")
		stop()
	})
	return mux
}

func (d *daemon) handle(w http.ResponseWriter, r *http.Request, fn func(context.Context, string, time.Duration) (string, error)) {
	peer := r.URL.Query().Get("peer")
	rtt, err := time.ParseDuration(r.URL.Query().Get("rtt"))
	if err != nil || d.providers[peer] == nil {
		http.Error(w, fmt.Sprintf("want peer=<one of the providers> and rtt=<duration>, got peer=%q rtt=%q",
			peer, r.URL.Query().Get("rtt")), http.StatusBadRequest)
		return
	}
	msg, err := fn(r.Context(), peer, rtt)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, msg)
}

// connect measures the peering's latency: Liqo's gateways over the relay, or the
// stand-in writer.
func (d *daemon) connect(ctx context.Context, peer string, rtt time.Duration) (string, error) {
	d.mu.Lock()
	_, exists := d.links[peer]
	d.mu.Unlock()
	if exists {
		return "", fmt.Errorf("%s is already connected", peer)
	}
	var link rttSetter
	if d.gateways {
		l, err := d.consumer.ConnectGateways(ctx, d.providers[peer], sandbox.GatewayOptions{RTT: rtt, UpdateStatusInterval: statusInterval})
		if err != nil {
			return "", err
		}
		link = l
	} else {
		l, err := startStandIn(ctx, d.life, d.consumer, peer, rtt)
		if err != nil {
			return "", err
		}
		link = l
	}
	d.mu.Lock()
	d.links[peer] = link
	d.mu.Unlock()
	return fmt.Sprintf("%s connected, injected round trip %v", peer, rtt), nil
}

// standIn writes the Connection's status every statusInterval as Liqo's gateway would,
// with the configured RTT: the fallback where gateways cannot run.
type standIn struct {
	mu  sync.Mutex
	rtt time.Duration
}

func (s *standIn) SetRTT(rtt time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rtt = rtt
	return nil
}

// startStandIn writes the first status now, then keeps writing it every statusInterval.
func startStandIn(ctx, life context.Context, c *sandbox.Cluster, peer string, rtt time.Duration) (*standIn, error) {
	s := &standIn{rtt: rtt}
	if err := c.StandInConnection(ctx, peer, networkingv1beta1.Connected, rtt, time.Now()); err != nil {
		return nil, err
	}
	go func() {
		for {
			select {
			case <-life.Done():
				return
			case <-time.After(statusInterval):
			}
			s.mu.Lock()
			rtt := s.rtt
			s.mu.Unlock()
			err := c.StandInConnection(life, peer, networkingv1beta1.Connected, rtt, time.Now())
			if err != nil {
				fmt.Fprintf(os.Stderr, "stand-in latency for %s: %v\n", peer, err)
			}
		}
	}()
	return s, nil
}

// kwokLocalNodes are the consumer's kwok nodes: none when it has real ones.
func kwokLocalNodes(real bool) []string {
	if real {
		return nil
	}
	return []string{"local-1", "local-2"}
}
