package sandbox

// Liqo's REAL gateways for a peering: the consumer's GatewayClient and the provider's
// GatewayServer, each run as Liqo v1.2.0's two gateway processes (cmd/gateway/wireguard
// with userspace WireGuard, and cmd/gateway with the connection check) in a network
// namespace of its own. The WireGuard underlay crosses the harness's delay relay, so the
// latency Liqo writes into the Connection objects is measured, over an injected delay.

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	liqoconsts "github.com/liqotech/liqo/pkg/consts"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/test/delayrelay"
)

// Liqo's chart defaults for the gateway (values.yaml networking.gateway).
const (
	gatewayMTU        = 1340
	gatewayServerPort = 51840
	// DefaultPingInterval, DefaultPingLossThreshold and DefaultUpdateStatusInterval are
	// the chart's networking.gateway.ping defaults.
	DefaultPingInterval         = 2 * time.Second
	DefaultPingLossThreshold    = 5
	DefaultUpdateStatusInterval = 10 * time.Second
)

// GatewayOptions configure a peering's gateways. Zero values take Liqo's defaults.
type GatewayOptions struct {
	// RTT is the round-trip delay the relay injects, split evenly between directions.
	RTT time.Duration
	// PingInterval, PingLossThreshold and UpdateStatusInterval are the connection
	// check's --ping-interval, --ping-loss-threshold, --ping-update-status-interval.
	PingInterval         time.Duration
	PingLossThreshold    int
	UpdateStatusInterval time.Duration
}

func (o GatewayOptions) withDefaults() GatewayOptions {
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PingLossThreshold == 0 {
		o.PingLossThreshold = DefaultPingLossThreshold
	}
	if o.UpdateStatusInterval == 0 {
		o.UpdateStatusInterval = DefaultUpdateStatusInterval
	}
	return o
}

// GatewayLink is a running pair of gateways between a consumer and one provider.
type GatewayLink struct {
	Consumer, Provider *Cluster
	Options            GatewayOptions

	relay      *delayrelay.Relay
	procs      []*process
	forwarders []*tcpForwarder
	namespaces []*netns
	closeOnce  sync.Once
}

// SetRTT changes the injected round-trip delay; Liqo's measurement follows within one
// ping and one status interval.
func (l *GatewayLink) SetRTT(rtt time.Duration) { l.relay.SetRTT(rtt) }

// SetDelay sets each direction's delay: consumer→provider and provider→consumer.
func (l *GatewayLink) SetDelay(toProvider, toConsumer time.Duration) {
	l.relay.SetDelay(toProvider, toConsumer)
}

// RTT is the injected round-trip delay.
func (l *GatewayLink) RTT() time.Duration {
	up, down := l.relay.Delays()
	return up + down
}

// Cut drops all traffic between the gateways (Liqo reports Error after
// PingLossThreshold lost pings); Restore reconnects.
func (l *GatewayLink) Cut()     { l.relay.Cut() }
func (l *GatewayLink) Restore() { l.relay.Restore() }

// Close stops the gateway processes and removes the relay, forwarders and namespaces.
// Liqo's objects stay (unpeering removes them with the tenant namespaces).
func (l *GatewayLink) Close() {
	l.closeOnce.Do(func() {
		var wg sync.WaitGroup
		for _, p := range l.procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.stop(5 * time.Second)
			}()
		}
		wg.Wait()
		if l.relay != nil {
			_ = l.relay.Close()
		}
		for _, f := range l.forwarders {
			f.close()
		}
		for _, ns := range l.namespaces {
			ns.remove()
		}
	})
}

// PeerWithGateways peers c (consumer) with provider as Peer does, then connects the
// peering with Liqo's real gateways (ConnectGateways).
func (c *Cluster) PeerWithGateways(ctx context.Context, provider *Cluster, opts GatewayOptions) (*GatewayLink, error) {
	if err := GatewaySupport(); err != nil {
		return nil, err
	}
	if err := c.Peer(ctx, provider); err != nil {
		return nil, err
	}
	return c.ConnectGateways(ctx, provider, opts)
}

// ConnectGateways runs Liqo's real gateways for an existing peering (made with networking
// disabled, so Liqo deploys none itself) across a delay relay injecting opts.RTT. It
// returns once the consumer's Connection reports a second Connected measurement (the
// first includes the WireGuard handshake). Needs GatewaySupport() == nil.
func (c *Cluster) ConnectGateways(ctx context.Context, provider *Cluster, opts GatewayOptions) (*GatewayLink, error) {
	if err := GatewaySupport(); err != nil {
		return nil, err
	}
	if provider.liqo == nil || c.liqo == nil {
		return nil, fmt.Errorf("gateways need Liqo on both %s and %s (ClusterOptions.Liqo)", c.Name, provider.Name)
	}
	if _, err := c.Gateway(provider.Name); err == nil {
		return nil, fmt.Errorf("cluster %s already has gateways to %s", c.Name, provider.Name)
	}
	l := &GatewayLink{Consumer: c, Provider: provider, Options: opts.withDefaults()}
	if err := l.start(ctx); err != nil {
		l.Close()
		return nil, fmt.Errorf("gateways %s→%s: %w", c.Name, provider.Name, err)
	}
	c.gatewayMu.Lock()
	if c.gateways == nil {
		c.gateways = map[string]*GatewayLink{}
	}
	c.gateways[provider.Name] = l
	c.gatewayMu.Unlock()
	if _, err := c.WaitConnectionMeasured(ctx, provider.Name, 2); err != nil {
		return nil, fmt.Errorf("gateways %s→%s: %w", c.Name, provider.Name, err)
	}
	return l, nil
}

// Gateway returns the gateway link to provider, or an error if there is none.
func (c *Cluster) Gateway(provider string) (*GatewayLink, error) {
	c.gatewayMu.Lock()
	defer c.gatewayMu.Unlock()
	if l, ok := c.gateways[provider]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("cluster %s has no gateway link to %s (PeerWithGateways)", c.Name, provider)
}

// SetRTT, Cut and Restore act on the gateway link to provider.
func (c *Cluster) SetRTT(provider string, rtt time.Duration) error {
	l, err := c.Gateway(provider)
	if err == nil {
		l.SetRTT(rtt)
	}
	return err
}

func (c *Cluster) Cut(provider string) error {
	l, err := c.Gateway(provider)
	if err == nil {
		l.Cut()
	}
	return err
}

func (c *Cluster) Restore(provider string) error {
	l, err := c.Gateway(provider)
	if err == nil {
		l.Restore()
	}
	return err
}

// closeGateway closes and forgets the link to provider, if any.
func (c *Cluster) closeGateway(provider string) {
	c.gatewayMu.Lock()
	l := c.gateways[provider]
	delete(c.gateways, provider)
	c.gatewayMu.Unlock()
	if l != nil {
		l.Close()
	}
}

// closeGateways closes every link this cluster consumes through.
func (c *Cluster) closeGateways() {
	c.gatewayMu.Lock()
	links := c.gateways
	c.gateways = nil
	c.gatewayMu.Unlock()
	for _, l := range links {
		l.Close()
	}
}

// gatewaySide is one end of a link: where it runs and what it talks to.
type gatewaySide struct {
	cluster *Cluster
	mode    string // "server" (provider) or "client" (consumer)
	name    string // the GatewayServer/GatewayClient name: the remote cluster id
	remote  string
	ns      *netns
	dir     string
	uid     string
	private []byte
	public  []byte
}

func (l *GatewayLink) start(ctx context.Context) error {
	server := &gatewaySide{cluster: l.Provider, mode: "server", name: l.Consumer.Name, remote: l.Consumer.Name}
	client := &gatewaySide{cluster: l.Consumer, mode: "client", name: l.Provider.Name, remote: l.Provider.Name}
	for _, s := range []*gatewaySide{server, client} {
		s.dir = filepath.Join(s.cluster.Dir, "gateway-"+s.remote)
		if err := s.generateKeys(); err != nil {
			return err
		}
		ns, err := s.cluster.netns.create()
		if err != nil {
			return err
		}
		s.ns = ns
		l.namespaces = append(l.namespaces, ns)
	}
	relay, err := delayrelay.Listen(net.JoinHostPort(client.ns.hostIP.String(), "0"),
		net.JoinHostPort(server.ns.nsIP.String(), strconv.Itoa(gatewayServerPort)))
	if err != nil {
		return err
	}
	l.relay = relay
	relay.SetRTT(l.Options.RTT)

	if err := server.createGatewayServer(ctx); err != nil {
		return err
	}
	if err := client.createGatewayClient(ctx, relay.Addr()); err != nil {
		return err
	}
	for _, pair := range [][2]*gatewaySide{{server, client}, {client, server}} {
		if err := pair[0].createPublicKey(ctx, pair[1].public); err != nil {
			return err
		}
	}
	for _, s := range []*gatewaySide{server, client} {
		if err := l.startSide(s, relay.Addr()); err != nil {
			return err
		}
	}
	return nil
}

// generateKeys makes the side's X25519 key pair; WireGuard reads the private key as 32
// raw bytes from <keys-dir>/privateKey.
func (s *gatewaySide) generateKeys() error {
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate WireGuard key: %w", err)
	}
	s.private, s.public = key.Bytes(), key.PublicKey().Bytes()
	_, err = writeFileIn(filepath.Join(s.dir, "keys"), "privateKey", s.private)
	return err
}

func (s *gatewaySide) meta() metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: s.name, Namespace: TenantNamespace(s.remote),
		Labels: map[string]string{liqoconsts.RemoteClusterID: s.remote},
	}
}

func (s *gatewaySide) createGatewayServer(ctx context.Context) error {
	gw := &networkingv1beta1.GatewayServer{ObjectMeta: s.meta(), Spec: networkingv1beta1.GatewayServerSpec{
		MTU:      gatewayMTU,
		Endpoint: networkingv1beta1.Endpoint{Port: gatewayServerPort, ServiceType: corev1.ServiceTypeClusterIP},
	}}
	if err := s.cluster.Client.Create(ctx, gw); err != nil {
		return fmt.Errorf("create GatewayServer on %s: %w", s.cluster.Name, err)
	}
	s.uid = string(gw.UID)
	return nil
}

func (s *gatewaySide) createGatewayClient(ctx context.Context, endpoint *net.UDPAddr) error {
	gw := &networkingv1beta1.GatewayClient{ObjectMeta: s.meta(), Spec: networkingv1beta1.GatewayClientSpec{
		MTU: gatewayMTU,
		Endpoint: networkingv1beta1.EndpointStatus{
			Addresses: []string{endpoint.IP.String()},
			Port:      int32(endpoint.Port),
			Protocol:  ptr.To(corev1.ProtocolUDP),
		},
	}}
	if err := s.cluster.Client.Create(ctx, gw); err != nil {
		return fmt.Errorf("create GatewayClient on %s: %w", s.cluster.Name, err)
	}
	s.uid = string(gw.UID)
	return nil
}

// createPublicKey publishes the remote side's public key where this side's WireGuard
// process looks for it (label remote-cluster-id, its tenant namespace).
func (s *gatewaySide) createPublicKey(ctx context.Context, remotePublic []byte) error {
	pk := &networkingv1beta1.PublicKey{ObjectMeta: s.meta(), Spec: networkingv1beta1.PublicKeySpec{PublicKey: remotePublic}}
	if err := s.cluster.Client.Create(ctx, pk); err != nil {
		return fmt.Errorf("create PublicKey on %s: %w", s.cluster.Name, err)
	}
	return nil
}

// startSide runs the side's two processes in its namespace, with a kubeconfig that
// reaches its API server through a forwarder on the veth.
func (l *GatewayLink) startSide(s *gatewaySide, relayAddr *net.UDPAddr) error {
	host, port, err := net.SplitHostPort(s.cluster.Server[len("https://"):])
	if err != nil {
		return fmt.Errorf("API server address %s: %w", s.cluster.Server, err)
	}
	fwd, err := newTCPForwarder(s.ns.hostIP, net.JoinHostPort(host, port))
	if err != nil {
		return err
	}
	l.forwarders = append(l.forwarders, fwd)
	kubeconfig, err := s.kubeconfig(fwd.addr())
	if err != nil {
		return err
	}
	common := []string{
		"--name=" + s.name, "--namespace=" + TenantNamespace(s.remote),
		"--remote-cluster-id=" + s.remote, "--gateway-uid=" + s.uid, "--mode=" + s.mode,
		"--node-name=" + s.cluster.Name + "-gateway", "--pod-name=gw-" + s.remote,
		// No pod, so no in-pod leader election handshake between the two containers.
		"--leader-election=false",
		"--metrics-address=0", "--health-probe-bind-address=0",
	}
	wgArgs := append(append([]string{}, common...),
		"--container-name=wireguard", "--implementation=userspace",
		"--mtu="+strconv.Itoa(gatewayMTU), "--keys-dir="+filepath.Join(s.dir, "keys"))
	if s.mode == "server" {
		wgArgs = append(wgArgs, "--listen-port="+strconv.Itoa(gatewayServerPort), "--preserve-client-endpoint=true")
	} else {
		wgArgs = append(wgArgs, "--endpoint-address="+relayAddr.IP.String(), "--endpoint-port="+strconv.Itoa(relayAddr.Port))
	}
	o := l.Options
	gwArgs := append(append([]string{}, common...),
		"--container-name=gateway", "--concurrent-containers-names=wireguard",
		"--ping-enabled=true",
		"--ping-interval="+o.PingInterval.String(),
		"--ping-loss-threshold="+strconv.Itoa(o.PingLossThreshold),
		"--ping-update-status-interval="+o.UpdateStatusInterval.String())
	env := []string{"KUBECONFIG=" + kubeconfig}
	logDir := filepath.Join(s.cluster.Dir, "logs")
	prefix := "gateway-" + s.remote + "-"
	bins := s.cluster.liqo.bins
	for _, p := range []struct {
		name, binary string
		privateRun   bool
		args         []string
	}{
		{prefix + "wireguard", filepath.Join(bins, "gateway-wireguard"), true, wgArgs},
		{prefix + "conncheck", filepath.Join(bins, "gateway"), false, gwArgs},
	} {
		cmd, args := s.ns.command(p.binary, p.privateRun, p.args...)
		proc, err := startProcess(p.name, cmd, args, env, logDir)
		if err != nil {
			return err
		}
		l.procs = append(l.procs, proc)
	}
	return nil
}

// kubeconfig writes the cluster's admin kubeconfig pointed at the forwarder; the API
// server's certificate names localhost, so TLS verifies against that name.
func (s *gatewaySide) kubeconfig(server string) (string, error) {
	cfg, err := s.cluster.Kubeconfig()
	if err != nil {
		return "", err
	}
	for _, cl := range cfg.Clusters {
		cl.Server = "https://" + server
		cl.TLSServerName = "localhost"
	}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return "", fmt.Errorf("gateway kubeconfig: %w", err)
	}
	return writeFileIn(s.dir, "kubeconfig", data)
}

// WaitConnectionMeasured waits until this cluster's Connection to provider has reported
// n Connected measurements with a latency newer than the one it carried when the wait
// began, and returns the last.
func (c *Cluster) WaitConnectionMeasured(ctx context.Context, provider string, n int) (*networkingv1beta1.Connection, error) {
	key := client.ObjectKey{Namespace: TenantNamespace(provider), Name: ConnectionName(provider)}
	var last time.Time
	first, seen := true, 0
	conn := &networkingv1beta1.Connection{}
	timeout := time.Minute + time.Duration(n)*(DefaultUpdateStatusInterval+DefaultPingInterval)
	err := poll(ctx, 200*time.Millisecond, timeout, fmt.Sprintf("%d new Connected measurements in %s", n, key),
		func(ctx context.Context) (bool, error) {
			err := c.Client.Get(ctx, key, conn)
			if apierrors.IsNotFound(err) {
				first = false // created after the call: its first measurement counts
				return false, err
			}
			if err != nil {
				return false, err
			}
			st := conn.Status
			ts := st.Latency.Timestamp.Time
			if first {
				first, last = false, ts
				return false, nil
			}
			if st.Value != networkingv1beta1.Connected || st.Latency.Value == "" || st.Latency.Value == "N/A" {
				return false, fmt.Errorf("status %q latency %q", st.Value, st.Latency.Value)
			}
			if ts.After(last) {
				last = ts
				seen++
			}
			return seen >= n, nil
		})
	if err != nil {
		return nil, err
	}
	return conn, nil
}
