package sandbox

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// stopRealNodes runs while the API server still answers: the pods on real nodes are
// deleted (the kubelet stops their containers and runs CNI DEL), then the kubelets and
// containerds stop, and whatever is left is removed by force.
func (c *Cluster) stopRealNodes() {
	r := c.real
	if r == nil {
		return
	}
	c.real = nil
	// The pods' network namespaces, named while their interfaces still carry an address:
	// a pod deleted while draining gets its CNI DEL (interfaces gone) but the kubelet
	// stops before it removes the sandbox, which would leave the namespace's file and
	// mount behind, empty and no longer recognisable by its address.
	var podNetns []string
	if r.net != nil {
		podNetns = NetnsWithAddressIn(r.net.podSubnet())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, n := range r.nodes {
		if n.kubelet == nil {
			continue
		}
		if done, _ := n.kubelet.exited(); !done && c.Clientset != nil {
			c.drainRealNode(ctx, n)
		}
	}
	for _, n := range r.nodes {
		if n.kubelet != nil {
			n.kubelet.stop(stopGrace)
		}
		if n.containerd != nil {
			n.containerd.stop(stopGrace)
		}
	}
	var roots []string
	for _, n := range r.nodes {
		roots = append(roots, n.cgroupRoot)
	}
	removeNodeLeftovers(r.dir, r.net, roots)
	for _, name := range podNetns {
		if _, err := os.Stat("/var/run/netns/" + name); err == nil {
			_ = ipCmd("netns", "del", name)
		}
	}
	// containerd 1.6 keeps a few fixed paths (the CNI result cache, runc's root, shim
	// sockets); the kubelet's hard-coded folders were only mount points.
	for _, d := range r.hostDirs {
		_ = os.RemoveAll(d)
	}
}

// removeNodeLeftovers removes by force what real nodes under dir left on the host,
// whether they stopped (Stop) or died with a killed run (sweepStaleRealNodes): the
// processes in their cgroups and under dir (shims outlive containerd, being their own
// session, and with them containers the kubelet could not stop), mounts, the pods'
// network namespaces, cgroups, bridge, routes, record and folder.
func removeNodeLeftovers(dir string, n *realNet, cgroupRoots []string) {
	for _, root := range cgroupRoots {
		killCgroupProcesses(root)
	}
	for _, line := range ProcessesMentioning(dir) {
		if pid, err := strconv.Atoi(strings.SplitN(line, ":", 2)[0]); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	time.Sleep(100 * time.Millisecond)
	unmountUnder(dir)
	if n != nil {
		for _, name := range NetnsWithAddressIn(n.podSubnet()) {
			_ = ipCmd("netns", "del", name)
		}
	}
	for _, root := range cgroupRoots {
		removeCgroupRoot(root)
	}
	if n != nil {
		n.remove()
		n.forget()
	}
	_ = os.RemoveAll(dir)
}

// drainRealNode cordons the node (a ReplicaSet's replacement pods stay Pending) and
// deletes its pods, then waits until containerd runs no pod sandbox.
func (c *Cluster) drainRealNode(ctx context.Context, n *realNode) {
	cs := c.Clientset
	patch := []byte(`{"spec":{"unschedulable":true}}`)
	_, _ = cs.CoreV1().Nodes().Patch(ctx, n.name, "application/merge-patch+json", patch, metav1.PatchOptions{})
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", n.name).String()})
	if err != nil {
		return
	}
	zero := int64(0)
	for _, p := range pods.Items {
		_ = cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	}
	_ = poll(ctx, 200*time.Millisecond, 45*time.Second, "pods gone from "+n.name, func(ctx context.Context) (bool, error) {
		out, err := n.ctr(ctx, "tasks", "ls", "-q")
		return err == nil && strings.TrimSpace(out) == "", nil
	})
}

// cgroupMounts are the host's cgroup hierarchies (v1 controllers and the v2 mount).
func cgroupMounts() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var dirs []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) && (fields[i+1] == "cgroup" || fields[i+1] == "cgroup2") {
				dirs = append(dirs, fields[4])
			}
		}
	}
	return dirs
}

// makeCgroupRoot creates a node's cgroup root in every hierarchy; a v1 cpuset gets its
// parent's CPUs and memory nodes (a new one has none, and no task could join it).
func makeCgroupRoot(root string) error {
	for _, h := range cgroupMounts() {
		dir := filepath.Join(h, root)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(h, f)); err == nil {
				_ = os.WriteFile(filepath.Join(dir, f), v, 0o644)
			}
		}
	}
	return nil
}

// killCgroupProcesses kills every process in a node's cgroup tree (containers whose
// pods were not stopped through the kubelet).
func killCgroupProcesses(root string) {
	for _, h := range cgroupMounts() {
		_ = filepath.WalkDir(filepath.Join(h, root), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
}

// removeCgroupRoot removes a node's cgroup tree, deepest first, in every hierarchy.
func removeCgroupRoot(root string) {
	for _, h := range cgroupMounts() {
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(h, root), func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			for try := 0; try < 20; try++ {
				if err := os.Remove(d); err == nil || os.IsNotExist(err) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}

// CgroupsUnder lists cgroup folders named root in any hierarchy (none after Stop).
func CgroupsUnder(root string) []string {
	var left []string
	for _, h := range cgroupMounts() {
		if _, err := os.Stat(filepath.Join(h, root)); err == nil {
			left = append(left, filepath.Join(h, root))
		}
	}
	return left
}

// MountsUnder lists the host's mount points under dir.
func MountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var mounts []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			mounts = append(mounts, fields[4])
		}
	}
	return mounts
}

// unmountUnder detaches every mount under dir, deepest first.
func unmountUnder(dir string) {
	mounts := MountsUnder(dir)
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	for _, m := range mounts {
		_ = exec.Command("umount", "-l", m).Run()
	}
}

// NetnsWithAddressIn lists the CNI network namespaces (cni-<uuid>) holding an address
// of subnet: a cluster's pods' namespaces, which must all be gone after Stop. Other
// clusters' pods (another test run on the machine) have addresses of their own subnet.
func NetnsWithAddressIn(subnet string) []string {
	_, ipnet, err := net.ParseCIDR(subnet)
	if err != nil {
		return nil
	}
	entries, _ := os.ReadDir("/var/run/netns")
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "cni-") {
			continue
		}
		out, err := exec.Command("ip", "-n", e.Name(), "-o", "-4", "addr", "show").Output()
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(out)) {
			if ip, _, err := net.ParseCIDR(f); err == nil && ipnet.Contains(ip) {
				names = append(names, e.Name())
				break
			}
		}
	}
	return names
}
