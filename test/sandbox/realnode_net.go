package sandbox

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Real nodes' addresses come from 198.18.0.0/15 (RFC 2544's benchmarking block): not
// 10/8, 172.16/12 or 192.168/16, and not link-local, which EndpointSlices refuse (so the
// API server could never reach a webhook Pod through its Service). Each cluster with
// real nodes owns one octet O:
//
//	198.18.O.0/24   pods, on the bridge xrnO (198.18.O.1), via the CNI bridge plugin
//	198.18.O.20N    node N's kubelet (a /32 on the bridge: kubelets refuse loopback)
//	198.19.O.0/24   Service ClusterIPs; 198.19.O.1, the kubernetes Service, is a local
//	                address on the bridge where a forwarder leads to the API server
//
// Both /24s also get an unreachable route, so that nothing addressed to them can ever
// follow the default route off the machine, even while the bridge is down. Pods have no
// default route (the bridge plugin's isGateway is off, which would switch on the host's
// forwarding): they reach their node's addresses and the API server only.
type realNet struct {
	octet     int
	bridge    string
	gateway   net.IP // 198.18.O.1: the pods' way to 198.19.O.0/24
	serviceIP net.IP // 198.19.O.1: the kubernetes Service
	guards    [][]string
	forwarder *tcpForwarder
}

func (n *realNet) podSubnet() string     { return fmt.Sprintf("198.18.%d.0/24", n.octet) }
func (n *realNet) serviceSubnet() string { return fmt.Sprintf("198.19.%d.0/24", n.octet) }
func (n *realNet) nodeIP(i int) net.IP   { return net.IPv4(198, 18, byte(n.octet), byte(200+i)) }

const maxRealNodes = 9

// newRealNet picks a free octet and makes the bridge, its addresses and the guards.
func newRealNet(nodes int) (*realNet, error) {
	if nodes > maxRealNodes {
		return nil, fmt.Errorf("at most %d real nodes per cluster (asked for %d)", maxRealNodes, nodes)
	}
	octet, err := freeRealNetOctet()
	if err != nil {
		return nil, err
	}
	n := &realNet{octet: octet, bridge: "xrn" + strconv.Itoa(octet),
		gateway: net.IPv4(198, 18, byte(octet), 1), serviceIP: net.IPv4(198, 19, byte(octet), 1)}
	ok := false
	defer func() {
		if !ok {
			n.remove()
		}
	}()
	// Guards first: from here on nothing in either range can leave the machine.
	for _, guard := range [][]string{
		{"unreachable", n.serviceSubnet()},
		{"unreachable", n.podSubnet(), "metric", "4000"},
	} {
		if err := ipCmd(append([]string{"route", "add"}, guard...)...); err != nil {
			return nil, err
		}
		n.guards = append(n.guards, guard)
	}
	if err := ipCmd("link", "add", n.bridge, "type", "bridge"); err != nil {
		return nil, err
	}
	addrs := []string{n.gateway.String() + "/24", n.serviceIP.String() + "/32"}
	for i := 1; i <= nodes; i++ {
		addrs = append(addrs, n.nodeIP(i).String()+"/32")
	}
	for _, a := range addrs {
		if err := ipCmd("addr", "add", a, "dev", n.bridge); err != nil {
			return nil, err
		}
	}
	if err := ipCmd("link", "set", n.bridge, "up"); err != nil {
		return nil, err
	}
	ok = true
	return n, nil
}

// forwardAPIServer makes the kubernetes Service's address lead to the API server (which
// listens on loopback only), for pods' in-cluster clients: there is no kube-proxy.
func (n *realNet) forwardAPIServer(server string) error {
	u := server[len("https://"):]
	f, err := newTCPForwarderOn(net.JoinHostPort(n.serviceIP.String(), "443"), u)
	if err != nil {
		return err
	}
	n.forwarder = f
	return nil
}

// remove deletes the bridge (the pods' veths are gone with their namespaces by now) and
// the guard routes.
func (n *realNet) remove() {
	if n.forwarder != nil {
		n.forwarder.close()
	}
	if n.bridge != "" {
		_ = ipCmd("link", "del", n.bridge)
	}
	for _, g := range n.guards {
		_ = ipCmd(append([]string{"route", "del"}, g...)...)
	}
	n.guards = nil
}

// freeRealNetOctet picks O so that no host address or link uses 198.18.O or 198.19.O.
func freeRealNetOctet() (int, error) {
	used := map[int]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return 0, fmt.Errorf("list host addresses: %w", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip4 := ipn.IP.To4(); ip4 != nil && ip4[0] == 198 && (ip4[1] == 18 || ip4[1] == 19) {
				used[int(ip4[2])] = true
			}
		}
	}
	for range 200 {
		octet := 1 + rand.IntN(199)
		if _, err := os.Stat("/sys/class/net/xrn" + strconv.Itoa(octet)); !used[octet] && os.IsNotExist(err) {
			return octet, nil
		}
	}
	return 0, fmt.Errorf("no free 198.18.X.0/24 on this host for real nodes")
}

// Each cluster with real nodes is recorded in realNodesRecords/<bridge> as "<pid> <dir>"
// while it runs, so that what a killed test run left (its processes die with it, but
// not its bridge, routes, mounts, cgroups or folder) is removed by the next run.
const realNodesRecords = "/run/kubexr-realnodes"

func (n *realNet) record(pid int, dir string) error {
	if err := os.MkdirAll(realNodesRecords, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(realNodesRecords, n.bridge), []byte(fmt.Sprintf("%d %s\n", pid, dir)), 0o600)
}

func (n *realNet) forget() {
	_ = os.Remove(filepath.Join(realNodesRecords, n.bridge))
	_ = os.Remove(realNodesRecords) // only once empty
}

// sweepStaleRealNodes removes what runs that are gone left behind.
func sweepStaleRealNodes() {
	entries, _ := os.ReadDir(realNodesRecords)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(realNodesRecords, e.Name()))
		if err != nil {
			continue
		}
		var pid int
		var dir string
		if _, err := fmt.Sscan(string(data), &pid, &dir); err != nil || ProcessAlive(pid) {
			continue
		}
		octet, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "xrn"))
		if err != nil || !strings.HasPrefix(dir, os.TempDir()+"/xrn-") {
			continue
		}
		stale := &realNet{octet: octet, bridge: e.Name(), guards: [][]string{
			{"unreachable", fmt.Sprintf("198.19.%d.0/24", octet)},
			{"unreachable", fmt.Sprintf("198.18.%d.0/24", octet), "metric", "4000"}}}
		var roots []string
		for i := 1; i <= maxRealNodes; i++ {
			roots = append(roots, "/"+filepath.Base(dir)+"-n"+strconv.Itoa(i))
		}
		removeNodeLeftovers(dir, stale, roots)
	}
}
