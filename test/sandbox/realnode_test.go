package sandbox_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// hostState is what real nodes must leave as they found it.
func hostState(t *testing.T) map[string]string {
	t.Helper()
	state := map[string]string{}
	for _, f := range []string{"/proc/sys/vm/overcommit_memory", "/proc/sys/kernel/panic", "/proc/sys/kernel/panic_on_oops",
		"/proc/sys/vm/panic_on_oom", "/proc/sys/kernel/keys/root_maxkeys", "/proc/sys/kernel/keys/root_maxbytes",
		"/proc/sys/net/ipv4/ip_forward"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		state[f] = strings.TrimSpace(string(data))
	}
	for _, d := range []string{"/var/lib/kubelet", "/var/log/containers", "/var/lib/cni", "/run/containerd", "/usr/libexec/kubernetes"} {
		_, err := os.Stat(d)
		state[d] = map[bool]string{true: "exists", false: "absent"}[err == nil]
	}
	if out, err := exec.Command("iptables-save").Output(); err == nil {
		state["iptables"] = string(out)
	}
	// Every network namespace file (and so its nsfs mount): a pod's left behind empty
	// has no address to be recognised by.
	var netns []string
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		netns = append(netns, e.Name())
	}
	state["/var/run/netns"] = strings.Join(netns, " ")
	return state
}

// TestRealNodesRunPodsAndLeaveNothingBehind starts a cluster with two real nodes: both
// register and become Ready, a pod scheduled by the real kube-scheduler runs in a real
// container with an address from the harness's range, a pod whose image is not on the
// node fails to pull at the closed loopback registry (nothing leaves the machine), and
// after Stop no process, mount, link, route, cgroup, network namespace or folder is
// left and the kernel settings the kubelet wants were never written.
func TestRealNodesRunPodsAndLeaveNothingBehind(t *testing.T) {
	if err := sandbox.RealNodeSupport(); err != nil {
		t.Skipf("real nodes cannot run here: %v", err)
	}
	before := hostState(t)
	sb, err := sandbox.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			if t.Failed() {
				sb.DumpLogs(t)
			}
			sb.Stop()
		}
	}()
	ctx := context.Background()
	c, err := sb.StartCluster(ctx, sandbox.ClusterOptions{Name: "real", RealNodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	footprint := c.RealNodeFootprint()
	nodes := c.RealNodeNames()
	if len(nodes) != 2 {
		t.Fatalf("real nodes %v, want 2", nodes)
	}
	for _, name := range nodes {
		node, err := c.Clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if v := node.Status.NodeInfo.KubeletVersion; v != "v1.37.2" || !strings.HasPrefix(node.Status.NodeInfo.ContainerRuntimeVersion, "containerd://") {
			t.Errorf("node %s runs kubelet %q on %q, want v1.37.2 on containerd", name, v, node.Status.NodeInfo.ContainerRuntimeVersion)
		}
	}
	_, podNet, _ := net.ParseCIDR(c.PodSubnet())
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "runs", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: sandbox.PauseImage, ImagePullPolicy: corev1.PullIfNotPresent}},
			DNSPolicy: corev1.DNSDefault, AutomountServiceAccountToken: new(bool)},
	}
	if _, err := c.Clientset.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	unpullable := pod.DeepCopy()
	unpullable.Name, unpullable.Spec.Containers[0].Image = "unpullable", "registry.example/not-here:1"
	if _, err := c.Clientset.CoreV1().Pods("default").Create(ctx, unpullable, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sandbox.Eventually(t, "pod runs in a real container with an address of the harness's range", 90*time.Second, func() (bool, string) {
		p, err := c.Clientset.CoreV1().Pods("default").Get(ctx, "runs", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		ip := net.ParseIP(p.Status.PodIP)
		cs := p.Status.ContainerStatuses
		return p.Status.Phase == corev1.PodRunning && ip != nil && podNet.Contains(ip) && len(cs) == 1 && strings.HasPrefix(cs[0].ContainerID, "containerd://"),
			string(p.Status.Phase) + " " + p.Status.PodIP
	})
	sandbox.Eventually(t, "the pull goes to the closed loopback registry only", 90*time.Second, func() (bool, string) {
		p, err := c.Clientset.CoreV1().Pods("default").Get(ctx, "unpullable", metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false, "not waiting yet"
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff") && strings.Contains(w.Message, "127.0.0.1:9"), w.Reason + ": " + w.Message
	})

	sb.Stop()
	stopped = true
	if left := sandbox.ProcessesMentioning(footprint.Dir); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
	if left := sandbox.MountsUnder(footprint.Dir); len(left) > 0 {
		t.Errorf("mounts left: %v", left)
	}
	for _, root := range footprint.CgroupRoots {
		if left := sandbox.CgroupsUnder(root); len(left) > 0 {
			t.Errorf("cgroups left: %v", left)
		}
	}
	if _, err := os.Stat(footprint.Dir); !os.IsNotExist(err) {
		t.Errorf("%s left (%v)", footprint.Dir, err)
	}
	// The cluster's own network: its bridge, its guard routes and its pods' namespaces
	// (another test on the machine may add its own meanwhile, so only ours are checked).
	if _, err := os.Stat("/run/kubexr-realnodes/" + footprint.Bridge); !os.IsNotExist(err) {
		t.Errorf("the cluster's record for the next run's sweep is still there (%v)", err)
	}
	if _, err := os.Stat("/sys/class/net/" + footprint.Bridge); !os.IsNotExist(err) {
		t.Errorf("bridge %s left (%v)", footprint.Bridge, err)
	}
	routes, err := exec.Command("ip", "route", "show", "table", "all").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, subnet := range footprint.Subnets {
		if strings.Contains(string(routes), subnet) {
			t.Errorf("a route for %s left:\n%s", subnet, routes)
		}
		if left := sandbox.NetnsWithAddressIn(subnet); len(left) > 0 {
			t.Errorf("network namespaces of %s left: %v", subnet, left)
		}
	}
	after := hostState(t)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed:\nbefore: %s\nafter:  %s", k, v, after[k])
		}
	}
}
