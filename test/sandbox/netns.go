package sandbox

// Network namespaces for Liqo's gateways: one per gateway, each with a veth to the host
// addressed in link-local space (169.254.0.0/16, away from Liqo's tunnel pair
// 169.254.18.1/2 and the cloud metadata range), so no traffic ever leaves this machine.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// netnsPrefix names every namespace the harness creates: kubexr-<pid>-<n>. The pid lets a
// later run remove what a killed run left behind.
const netnsPrefix = "kubexr-"

// capNetAdmin is CAP_NET_ADMIN's bit in /proc/self/status CapEff.
const capNetAdmin = 12

// GatewaySupport reports why Liqo's gateways cannot run here, or nil when they can: they
// need CAP_NET_ADMIN (network namespaces, veths), a usable /dev/net/tun (userspace
// WireGuard) and iproute2's ip.
func GatewaySupport() error {
	if !hasCapNetAdmin() {
		return fmt.Errorf("real gateways need root or CAP_NET_ADMIN (uid %d has neither); "+
			"the stand-in Connection latency is used instead", os.Geteuid())
	}
	tun, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("real gateways need /dev/net/tun for userspace WireGuard: %v", err)
	}
	_ = tun.Close()
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("real gateways need iproute2's ip on PATH (Debian package iproute2): %v", err)
	}
	return nil
}

func hasCapNetAdmin() bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return os.Geteuid() == 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && caps&(1<<capNetAdmin) != 0
		}
	}
	return false
}

// netnsAllocator hands out namespace names and /30 subnets for one sandbox.
type netnsAllocator struct {
	mu     sync.Mutex
	next   int
	octet  int // third octet of 169.254.<octet>.0/24, chosen free on the host
	swept  bool
	ownPID int

	// The delay relay's binary, built once per sandbox (relay.go).
	buildOnce sync.Once
	relayBin  string
	buildErr  error
}

// netns is one namespace with a veth to the host.
type netns struct {
	name   string
	hostIP net.IP // the host end of the veth
	nsIP   net.IP // the namespace end
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// create makes a namespace with lo up and a veth pair whose host end is hostIP/30.
func (a *netnsAllocator) create() (*netns, error) {
	a.mu.Lock()
	if !a.swept {
		a.ownPID = os.Getpid()
		sweepStaleNetns()
		octet, err := freeLinkLocalOctet()
		if err != nil {
			a.mu.Unlock()
			return nil, err
		}
		a.octet, a.swept = octet, true
	}
	n := a.next
	a.next++
	a.mu.Unlock()
	if n >= 64 {
		return nil, fmt.Errorf("a sandbox supports at most 64 gateway namespaces")
	}
	ns := &netns{
		name:   fmt.Sprintf("%s%d-%d", netnsPrefix, a.ownPID, n),
		hostIP: net.IPv4(169, 254, byte(a.octet), byte(4*n+1)).To4(),
		nsIP:   net.IPv4(169, 254, byte(a.octet), byte(4*n+2)).To4(),
	}
	// Interface names are at most 15 bytes: kx<pid>-<n> fits for any pid.
	hostVeth := fmt.Sprintf("kx%d-%d", a.ownPID, n)
	steps := [][]string{
		{"netns", "add", ns.name},
		{"link", "add", hostVeth, "type", "veth", "peer", "name", "uplink", "netns", ns.name},
		{"addr", "add", ns.hostIP.String() + "/30", "dev", hostVeth},
		{"link", "set", hostVeth, "up"},
		{"-n", ns.name, "addr", "add", ns.nsIP.String() + "/30", "dev", "uplink"},
		{"-n", ns.name, "link", "set", "uplink", "up"},
		{"-n", ns.name, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			ns.remove()
			return nil, fmt.Errorf("network namespace %s: %w", ns.name, err)
		}
	}
	return ns, nil
}

// remove deletes the namespace; its veth pair goes with it.
func (ns *netns) remove() {
	_ = ipCmd("netns", "del", ns.name)
}

// gatewayNice is the gateways' (and the delay relay's) scheduling priority: Liqo
// measures the RTT with one ping, so a gateway waiting for the CPU behind the local
// clusters would add milliseconds to the injected delay (in a real cluster it has its
// own node's CPU). nice applies it where it may and runs the command anyway, with a
// warning, where it may not. Real-time scheduling was tried and measured worse: a dozen
// Go processes at one SCHED_FIFO priority hold the CPU against each other.
const gatewayNice = "-10"

// command runs binary inside the namespace through `ip netns exec`, which also gives it a
// private mount namespace; with privateRun, a tmpfs over /run there gives the process its
// own /run/wireguard (two WireGuard processes would otherwise share the socket path).
func (ns *netns) command(binary string, privateRun bool, args ...string) (string, []string) {
	script := `exec "$0" "$@"`
	if privateRun {
		script = `mount -t tmpfs -o mode=0755 kubexr-gateway /run && ` + script
	}
	return "nice", append([]string{"-n", gatewayNice, "ip", "netns", "exec", ns.name, "sh", "-c", script, binary}, args...)
}

// sweepStaleNetns removes namespaces a killed harness process left behind.
func sweepStaleNetns() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), netnsPrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || ProcessAlive(pid) {
			continue
		}
		_ = ipCmd("netns", "del", e.Name())
	}
}

// ProcessAlive reports whether a process with this pid exists (EPERM: it exists, owned
// by someone else).
func ProcessAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// freeLinkLocalOctet picks X so that no host address is in 169.254.X.0/24 (random, so two
// sandboxes on one machine rarely try the same one).
func freeLinkLocalOctet() (int, error) {
	used := map[int]bool{18: true, 169: true, 254: true}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return 0, fmt.Errorf("list host addresses: %w", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip4 := ipn.IP.To4(); ip4 != nil && ip4[0] == 169 && ip4[1] == 254 {
				used[int(ip4[2])] = true
			}
		}
	}
	for range 200 {
		octet := 100 + rand.IntN(150)
		if !used[octet] {
			return octet, nil
		}
	}
	return 0, fmt.Errorf("no free 169.254.X.0/24 on this host for the gateway links")
}

// writeFileIn writes data to dir/name (0600), creating dir.
func writeFileIn(dir, name string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, data, 0o600)
}
