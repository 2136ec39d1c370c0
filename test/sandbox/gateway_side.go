package sandbox

// One end of a gateway link: the Liqo objects a peering's networking would create on its
// cluster, and the two gateway processes in its network namespace.

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	liqoconsts "github.com/liqotech/liqo/pkg/consts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

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
	bin, err := l.Consumer.netns.relayBinary(filepath.Dir(l.Consumer.Dir))
	if err != nil {
		return err
	}
	relay, err := startRelayProcess(bin, net.JoinHostPort(client.ns.hostIP.String(), "0"),
		net.JoinHostPort(server.ns.nsIP.String(), strconv.Itoa(gatewayServerPort)),
		filepath.Join(l.Consumer.Dir, "logs", "delayrelay-"+l.Provider.Name+".log"))
	if err != nil {
		return err
	}
	l.relay = relay
	if err := l.SetRTT(l.Options.RTT); err != nil {
		return err
	}

	if err := server.createGatewayServer(ctx); err != nil {
		return err
	}
	if err := client.createGatewayClient(ctx, relay.addr); err != nil {
		return err
	}
	for _, pair := range [][2]*gatewaySide{{server, client}, {client, server}} {
		if err := pair[0].createPublicKey(ctx, pair[1].public); err != nil {
			return err
		}
	}
	for _, s := range []*gatewaySide{server, client} {
		if err := l.startSide(s, relay.addr); err != nil {
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
