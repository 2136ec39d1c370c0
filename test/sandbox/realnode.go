package sandbox

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Real nodes: a real kubelet (built by make testbins) on its own containerd, runc and
// the CNI bridge plugin (Debian's packages), registered with the cluster's API server.
// Pods bound to them run in real containers, from images imported into each node's
// containerd (nothing is ever pulled: every registry resolves to a closed loopback
// port). Facts and pitfalls behind every choice here: ../shared/real-kubelet.md.
//
// What the kubelet would change on the host is contained: it runs in a mount namespace
// of its own where the kernel settings it wants are files bound over /proc/sys (with
// protectKernelDefaults it fails instead of writing), its hard-coded folders are per-node
// folders, and iptables is off its PATH. Its cgroups live under a root of its own in
// every hierarchy. Stop removes every process, mount, link, route, cgroup and folder it
// made (TestRealNodesLeaveNothingBehind checks).

const (
	runcPath = "/usr/sbin/runc"
	cniBin   = "/usr/lib/cni"
	// closedRegistry is where every image pull goes: a loopback port nothing listens on.
	closedRegistry = "https://127.0.0.1:9"
	// closedProxy is containerd's HTTP proxy: no name is ever looked up for a registry.
	closedProxy = "http://127.0.0.1:9"
)

// RealNodeSupport says why real nodes cannot run here, or nil when they can.
func RealNodeSupport() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("real nodes need root (containerd, mounts, cgroups, a bridge); uid is %d", os.Geteuid())
	}
	for _, bin := range []string{"containerd", "ctr", "unshare", "mount", "umount", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("real nodes need %s on PATH: run make testbins as root (it installs containerd, runc and the CNI plugins)", bin)
		}
	}
	for _, f := range []string{runcPath, cniBin + "/bridge", cniBin + "/host-local", cniBin + "/loopback"} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("real nodes need %s: run make testbins as root (Debian packages runc, containernetworking-plugins)", f)
		}
	}
	assets, err := AssetsDir()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(assets, "kubelet")); err != nil {
		return fmt.Errorf("kubelet is missing from %s: run make testbins", assets)
	}
	return nil
}

// realNodes are one cluster's real nodes and what they share.
type realNodes struct {
	net      *realNet
	dir      string // short (sockets must fit in 108 bytes): /tmp/xrn-*
	nodes    []*realNode
	hostDirs []string // host folders the nodes needed and we created
}

type realNode struct {
	name       string
	ip         net.IP
	dir        string
	cgroupRoot string
	socket     string
	containerd *process
	kubelet    *process
}

// RealNodeNames are the names of the cluster's real nodes, in start order.
func (c *Cluster) RealNodeNames() []string {
	if c.real == nil {
		return nil
	}
	var names []string
	for _, n := range c.real.nodes {
		names = append(names, n.name)
	}
	return names
}

// prepareRealNodes runs before the API server: the network (its Service range and the
// address the serving certificate must name).
func (c *Cluster) prepareRealNodes(count int) error {
	if err := RealNodeSupport(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "xrn-")
	if err != nil {
		return err
	}
	r := &realNodes{dir: dir}
	c.real = r
	sweepStaleRealNodes()
	if r.net, err = newRealNet(count); err != nil {
		return err
	}
	if err := r.net.record(os.Getpid(), dir); err != nil {
		return err
	}
	// Pods reach the API server as https://198.19.O.1 (the kubernetes Service).
	c.PKI.ServingCert, c.PKI.ServingKey, err = c.PKI.Issue("serving", "localhost", nil,
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		[]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, r.net.serviceIP}, x509.ExtKeyUsageServerAuth)
	return err
}

// apiServerFlags are what real nodes need of the API server: a Service range of ours,
// kubelet credentials (logs, exec), and ServiceAccount tokens for pods' in-cluster
// clients. (Services resolve to pod IPs on every cluster: --enable-aggregator-routing.)
func (r *realNodes) apiServerFlags(flags []string, p *PKI) []string {
	kept := flags[:0:0]
	for _, f := range flags {
		if !strings.HasPrefix(f, "--service-cluster-ip-range=") && !strings.HasPrefix(f, "--disable-admission-plugins=") {
			kept = append(kept, f)
		}
	}
	return append(kept,
		"--service-cluster-ip-range="+r.net.serviceSubnet(),
		"--kubelet-client-certificate="+p.AdminCert, "--kubelet-client-key="+p.AdminKey,
		"--kubelet-certificate-authority="+p.CACert,
		"--kubelet-preferred-address-types=InternalIP",
		"--disable-admission-plugins=TaintNodesByCondition",
	)
}

// realNodeControllers are the kube-controller-manager controllers pods on real nodes
// need: ServiceAccounts and the CA ConfigMap their tokens come with, EndpointSlices for
// Services, Deployments and ReplicaSets.
var realNodeControllers = []string{"serviceaccount-controller", "root-ca-certificate-publisher-controller",
	"endpointslice-controller", "deployment-controller", "replicaset-controller", "garbage-collector-controller"}

// startRealNodes starts every node's containerd and kubelet, imports the images, and
// waits until each node is Ready.
func (c *Cluster) startRealNodes(ctx context.Context, assets string, count int, images []string) error {
	r := c.real
	if err := r.net.forwardAPIServer(c.Server); err != nil {
		return err
	}
	for _, d := range []string{"/var/lib/kubelet", "/var/log/containers"} {
		if _, err := os.Stat(d); os.IsNotExist(err) {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			r.hostDirs = append(r.hostDirs, d)
		}
	}
	for _, d := range []string{"/var/lib/cni", "/run/containerd"} { // containerd 1.6's fixed paths
		if _, err := os.Stat(d); os.IsNotExist(err) {
			r.hostDirs = append(r.hostDirs, d)
		}
	}
	pause, err := buildPauseImage(r.dir)
	if err != nil {
		return err
	}
	images = append([]string{pause}, images...)
	for i := 1; i <= count; i++ {
		n := &realNode{name: fmt.Sprintf("%s-node-%d", c.Name, i), ip: r.net.nodeIP(i),
			dir: filepath.Join(r.dir, "n"+strconv.Itoa(i))}
		n.cgroupRoot = "/" + filepath.Base(r.dir) + "-n" + strconv.Itoa(i)
		n.socket = filepath.Join(n.dir, "containerd.sock")
		r.nodes = append(r.nodes, n)
		if err := c.startContainerd(ctx, r, n); err != nil {
			return err
		}
		for _, img := range images {
			if out, err := n.ctr(ctx, "images", "import", "--snapshotter", "overlayfs", img); err != nil {
				return fmt.Errorf("node %s: import %s: %w\n%s", n.name, img, err, out)
			}
		}
		if err := c.startKubelet(assets, r, n); err != nil {
			return err
		}
	}
	for _, n := range r.nodes {
		if _, err := c.WaitNodeReady(ctx, n.name); err != nil {
			return fmt.Errorf("%w\nkubelet log:\n%s", err, tail(n.kubelet.logPath, 20))
		}
	}
	return nil
}

func (n *realNode) ctr(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ctr", append([]string{"--address", n.socket, "-n", "k8s.io"}, args...)...).CombinedOutput()
	return string(out), err
}

func (c *Cluster) startContainerd(ctx context.Context, r *realNodes, n *realNode) error {
	cni := filepath.Join(n.dir, "cni")
	hosts := filepath.Join(n.dir, "registry", "_default")
	for _, d := range []string{cni, hosts} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	// Every registry is the closed loopback port: a pull fails at once and never leaves
	// the machine (_default applies to every registry host; containerd 1.6 wants a host
	// table). The proxy variables below hold even if this file were not read.
	hostsToml := fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", closedRegistry, closedRegistry)
	if err := os.WriteFile(filepath.Join(hosts, "hosts.toml"), []byte(hostsToml), 0o600); err != nil {
		return err
	}
	conflist := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "kubexr-sandbox", "plugins": [{
  "type": "bridge", "bridge": %q, "isGateway": false, "isDefaultGateway": false, "ipMasq": false, "hairpinMode": false,
  "ipam": {"type": "host-local", "dataDir": %q,
    "ranges": [[{"subnet": %q, "rangeStart": "198.18.%d.10", "rangeEnd": "198.18.%d.199", "gateway": %q}]],
    "routes": [{"dst": %q}]}}]}`, r.net.bridge, filepath.Join(r.dir, "ipam"), r.net.podSubnet(),
		r.net.octet, r.net.octet, r.net.gateway, r.net.serviceSubnet())
	if err := os.WriteFile(filepath.Join(cni, "10-kubexr.conflist"), []byte(conflist), 0o600); err != nil {
		return err
	}
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = %[3]q
[ttrpc]
  address = "%[3]s.ttrpc"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = %[4]q
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = %[5]q
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    disable_apparmor = true
    # No CAP_SYS_RESOURCE here: runc cannot lower oom_score_adj below containerd's own.
    restrict_oom_score_adj = true
    disable_tcp_service = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          BinaryName = %[6]q
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = %[7]q
      conf_dir = %[8]q
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = %[9]q
`, filepath.Join(n.dir, "root"), filepath.Join(n.dir, "state"), n.socket, filepath.Join(n.dir, "opt"),
		PauseImage, runcPath, cniBin, cni, filepath.Dir(hosts))
	configPath := filepath.Join(n.dir, "containerd.toml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return err
	}
	var err error
	noPull := []string{"HTTPS_PROXY=" + closedProxy, "HTTP_PROXY=" + closedProxy, "NO_PROXY=", "https_proxy=", "http_proxy=", "no_proxy="}
	if n.containerd, err = c.start("containerd-"+n.name, "containerd", []string{"--config", configPath}, noPull); err != nil {
		return err
	}
	return poll(ctx, 100*time.Millisecond, 30*time.Second, "containerd of "+n.name, func(ctx context.Context) (bool, error) {
		if done, _ := n.containerd.exited(); done {
			return false, fmt.Errorf("%w: %s", errExited, tail(n.containerd.logPath, 10))
		}
		_, err := n.ctr(ctx, "version")
		return err == nil, err
	})
}

// kernelDefaults are the settings the kubelet insists on (protectKernelDefaults): it
// sees them as files bound over /proc/sys in its own mount namespace; the host's values
// stay.
var kernelDefaults = map[string]string{
	"vm/overcommit_memory": "1", "vm/panic_on_oom": "0", "kernel/panic": "10", "kernel/panic_on_oops": "1",
	"kernel/keys/root_maxkeys": "1000000", "kernel/keys/root_maxbytes": "25000000",
}

func (c *Cluster) startKubelet(assets string, r *realNodes, n *realNode) error {
	root := filepath.Join(n.dir, "kubelet")
	for _, d := range []string{root, filepath.Join(n.dir, "var-lib-kubelet"), filepath.Join(n.dir, "var-log-containers"),
		filepath.Join(n.dir, "pod-logs"), filepath.Join(n.dir, "sysctl")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := makeCgroupRoot(n.cgroupRoot); err != nil {
		return err
	}
	cert, key, err := c.PKI.Issue("kubelet-"+n.name, n.name, nil, []string{n.name}, []net.IP{n.ip}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	healthz, err := freePort()
	if err != nil {
		return err
	}
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
cgroupDriver: cgroupfs
cgroupRoot: %s
failCgroupV1: false
failSwapOn: false
protectKernelDefaults: true
containerRuntimeEndpoint: unix://%s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %s}
authorization: {mode: AlwaysAllow}
tlsCertFile: %s
tlsPrivateKeyFile: %s
rotateCertificates: false
serverTLSBootstrap: false
registerNode: true
maxPods: 30
podLogsDir: %s
volumePluginDir: %s
resolvConf: ""
evictionHard: {memory.available: "50Mi", nodefs.available: "1%%", imagefs.available: "1%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# Secret volumes follow their Secret on each pod sync: a minute by default, so
# cert-controller's first certificate would reach xr-webhook's pods only after it.
syncFrequency: 10s
`, n.ip, port, healthz, n.cgroupRoot, n.socket, c.PKI.CACert, cert, key,
		filepath.Join(n.dir, "pod-logs"), filepath.Join(root, "volume-plugins"))
	configPath := filepath.Join(n.dir, "kubelet.yaml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return err
	}
	// Volume mounts (Secrets, tokens) must reach containerd in the host's namespace:
	// the root folder is a shared mount; nothing else the kubelet mounts propagates.
	for _, args := range [][]string{{"--bind", root, root}, {"--make-rshared", root}} {
		if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("mount %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	var script strings.Builder
	script.WriteString("set -e\n")
	for setting, value := range kernelDefaults {
		file := filepath.Join(n.dir, "sysctl", strings.ReplaceAll(setting, "/", "."))
		if err := os.WriteFile(file, []byte(value+"\n"), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&script, "mount --bind %q /proc/sys/%s\n", file, setting)
	}
	fmt.Fprintf(&script, "mount --bind %q /var/lib/kubelet\nmount --bind %q /var/log/containers\n",
		filepath.Join(n.dir, "var-lib-kubelet"), filepath.Join(n.dir, "var-log-containers"))
	fmt.Fprintf(&script, "exec %q --config=%q --kubeconfig=%q --root-dir=%q --hostname-override=%s --node-ip=%s --node-labels=sandbox.kubexr.io/node=real --v=2\n",
		filepath.Join(assets, "kubelet"), configPath, c.KubeconfigPath, root, n.name, n.ip)
	n.kubelet, err = c.start("kubelet-"+n.name, "unshare", []string{"-m", "--propagation", "unchanged", "--", "sh", "-c", script.String()},
		// No iptables on its PATH (only /usr/sbin has it): the kubelet's KUBE-FIREWALL
		// and canary chains would otherwise land in the host's tables.
		[]string{"PATH=/usr/local/bin:/usr/bin:/bin"})
	return err
}

// RealNodeFootprint is what a cluster's real nodes hold on the host, for tests that
// prove Stop leaves none of it.
type RealNodeFootprint struct {
	Dir         string   // every node's files (containerd, kubelet, sockets)
	Bridge      string   // the pods' bridge
	Subnets     []string // the pod and Service ranges (guard routes)
	CgroupRoots []string // one per node, in every hierarchy
}

// RealNodeFootprint returns the host state the cluster's real nodes hold (zero without).
func (c *Cluster) RealNodeFootprint() RealNodeFootprint {
	r := c.real
	if r == nil {
		return RealNodeFootprint{}
	}
	f := RealNodeFootprint{Dir: r.dir, Bridge: r.net.bridge, Subnets: []string{r.net.podSubnet(), r.net.serviceSubnet()}}
	for _, n := range r.nodes {
		f.CgroupRoots = append(f.CgroupRoots, n.cgroupRoot)
	}
	return f
}

// PodSubnet is the range real nodes' pods get addresses from ("" without real nodes).
func (c *Cluster) PodSubnet() string {
	if c.real == nil {
		return ""
	}
	return c.real.net.podSubnet()
}
