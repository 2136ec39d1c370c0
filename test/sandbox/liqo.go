package sandbox

// This file runs the REAL Liqo v1.2.0 control plane of a cluster as local processes (see
// ../shared/liqo-local.md in the design notes and the README's test-bed section):
// kube-controller-manager for the CSRs Liqo approves, liqo-controller-manager,
// crd-replicator, Liqo's webhook, and one virtual kubelet per peered provider. Liqo runs
// with networking disabled; where a test needs measured latency, ConnectGateways
// (gateways.go) runs Liqo's gateways for a peering.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
)

// LiqoNamespace is where Liqo's chart installs Liqo.
const LiqoNamespace = "liqo"

// liqoBinaries are what `make testbins` builds from Liqo v1.2.0 into KUBEXR_LIQO_BINS.
var liqoBinaries = []string{"liqo-controller-manager", "crd-replicator", "webhook", "virtual-kubelet", "liqoctl"}

// LiqoBinsDir returns the folder of Liqo's binaries, or an error saying how to build them.
func LiqoBinsDir() (string, error) {
	dir := os.Getenv("KUBEXR_LIQO_BINS")
	if dir == "" {
		return "", fmt.Errorf("KUBEXR_LIQO_BINS is not set: run `make testbins` and use `make test`, " +
			"or export KUBEXR_LIQO_BINS=$(source hack/testbins-env.sh; echo $KUBEXR_LIQO_BINS)")
	}
	for _, b := range liqoBinaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("%s is missing from KUBEXR_LIQO_BINS=%s: run `make testbins`", b, dir)
		}
	}
	return dir, nil
}

// liqoCluster is the Liqo state of one cluster.
type liqoCluster struct {
	bins string
	// webhookPort serves Liqo's webhook; certDir holds its serving certificate.
	webhookPort int

	mu sync.Mutex
	// vks are the running virtual kubelets by their Deployment (namespace/name).
	vks    map[string]*virtualKubelet
	cancel context.CancelFunc
	done   chan struct{}
}

// liqoControllers are the only kube-controller-manager controllers a Liqo cluster needs:
// csrsigning (Liqo approves identity CSRs but does not sign them), csrcleaner,
// garbagecollector (removes a provider pod when its ShadowPod goes) and namespace
// (cleanup on unoffload). The deployment controller must not run: it would create a
// virtual-kubelet pod that can never run; the harness runs the process instead.
var liqoControllers = []string{"csrsigning", "csrcleaner", "garbagecollector", "namespace"}

func (c *Cluster) startLiqo(ctx context.Context, s *Sandbox, controllers []string) error {
	bins, err := LiqoBinsDir()
	if err != nil {
		return err
	}
	l := &liqoCluster{bins: bins, vks: map[string]*virtualKubelet{}}
	if l.webhookPort, err = freePort(); err != nil {
		return err
	}
	c.liqo = l
	certDir, err := c.servingCerts("liqo-webhook")
	if err != nil {
		return err
	}
	if err := c.installLiqoChartObjects(ctx, l.webhookPort); err != nil {
		return err
	}
	if err := c.startControllerManager(s.assets, append(slices.Clone(liqoControllers), controllers...)); err != nil {
		return err
	}
	kubeconfigEnv := []string{"KUBECONFIG=" + c.KubeconfigPath}
	lcmWebhookPort, err := freePort()
	if err != nil {
		return err
	}
	lcmTmp, err := c.tmpWithCerts("liqo-controller-manager", certDir)
	if err != nil {
		return err
	}
	if _, err := c.start("liqo-controller-manager", filepath.Join(bins, "liqo-controller-manager"), []string{
		"--cluster-id=" + c.Name, "--liqo-namespace=" + LiqoNamespace,
		"--networking-enabled=false", "--authentication-enabled=true", "--offloading-enabled=true",
		"--enable-storage=false", "--enable-api-server-ip-remapping=false",
		// Required: without it Liqo looks for a control-plane node ("no master node found").
		"--api-server-address-override=" + c.Server,
		"--webhook-port=" + strconv.Itoa(lcmWebhookPort),
		"--metrics-address=0", "--health-probe-address=0",
		// The chart's offloading.defaultNodeResources: what a provider grants a ResourceSlice
		// that asks for nothing. Without it the virtual node reports pressure, never Ready.
		"--default-node-resources=cpu=4,ephemeral-storage=20Gi,memory=8Gi,pods=110",
	}, append(kubeconfigEnv, "TMPDIR="+lcmTmp)); err != nil {
		return err
	}
	// --metrics-address is required: without it peering hangs at "Waiting for
	// ResourceSlice authentication to be accepted".
	if _, err := c.start("crd-replicator", filepath.Join(bins, "crd-replicator"), []string{
		"--cluster-id=" + c.Name, "--metrics-address=0",
	}, kubeconfigEnv); err != nil {
		return err
	}
	whTmp, err := c.tmpWithCerts("liqo-webhook", certDir)
	if err != nil {
		return err
	}
	if _, err := c.start("liqo-webhook", filepath.Join(bins, "webhook"), []string{
		"--cluster-id=" + c.Name, "--liqo-namespace=" + LiqoNamespace, "--liqo-runtime-class=liqo",
		"--vk-options-default-template=" + LiqoNamespace + "/virtual-kubelet-default",
		"--webhook-port=" + strconv.Itoa(l.webhookPort),
		// Its defaults (:8081, :8082) would collide between clusters on one machine.
		"--metrics-address=0", "--health-probe-address=0",
	}, append(kubeconfigEnv, "TMPDIR="+whTmp)); err != nil {
		return err
	}
	if err := waitTCP(ctx, "Liqo's webhook", l.webhookPort); err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	vkCtx, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		c.superviseVirtualKubelets(vkCtx)
	}()
	return nil
}

// tmpWithCerts makes a TMPDIR for one Liqo process with the serving certificate where
// controller-runtime looks for it ($TMPDIR/k8s-webhook-server/serving-certs).
func (c *Cluster) tmpWithCerts(name, certDir string) (string, error) {
	tmp := filepath.Join(c.Dir, "tmp-"+name)
	dst := filepath.Join(tmp, "k8s-webhook-server", "serving-certs")
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return "", err
	}
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := copyFile(filepath.Join(certDir, f), filepath.Join(dst, f)); err != nil {
			return "", err
		}
	}
	return tmp, nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o600)
}

// stopLiqo stops the virtual kubelets (before the API server they talk to).
func (c *Cluster) stopLiqo() {
	l := c.liqo
	if l == nil || l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, vk := range l.vks {
		vk.proc.stop(stopGrace)
		delete(l.vks, key)
	}
}
