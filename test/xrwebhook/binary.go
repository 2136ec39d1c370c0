package xrwebhook

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// Binary is the real xr-webhook binary running as a process on this machine, set up as
// `kubectl xr install` sets it up in a cluster: manifests/default applied, the process
// authenticated as the manifests' ServiceAccount (impersonated by the admin kubeconfig,
// so their RBAC is all it has), and the webhook configurations pointed at it.
type Binary struct {
	Port, ProbePort int
	proc            *sandbox.Process
}

// Stop ends the process.
func (b *Binary) Stop() { b.proc.Stop() }

// StartBinary runs binary (cmd/xr-webhook built) against c and returns once /readyz
// passes and the webhook configurations are applied.
func StartBinary(ctx context.Context, sb *sandbox.Sandbox, c *sandbox.Cluster, binary string, env ...string) (*Binary, error) {
	return StartBinaryWithFlags(ctx, sb, c, binary, nil, env...)
}

// StartBinaryWithFlags is StartBinary with flags added after the harness's own (a flag
// given twice takes the later value, e.g. a --metrics-bind-address).
func StartBinaryWithFlags(ctx context.Context, sb *sandbox.Sandbox, c *sandbox.Cluster, binary string, flags []string, env ...string) (*Binary, error) {
	configs, err := applyManifests(ctx, sb, c)
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(c.PKI.CACert)
	if err != nil {
		return nil, err
	}
	certDir, err := servingCerts(c)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := serviceAccountKubeconfig(c)
	if err != nil {
		return nil, err
	}
	b := &Binary{}
	if b.Port, err = sandbox.FreePort(); err != nil {
		return nil, err
	}
	if b.ProbePort, err = sandbox.FreePort(); err != nil {
		return nil, err
	}
	b.proc, err = c.StartProcess("xr-webhook", binary, append([]string{
		"--namespace=" + Namespace,
		"--webhook-host=127.0.0.1", fmt.Sprintf("--webhook-port=%d", b.Port),
		"--cert-dir=" + certDir,
		// The harness issued the certificate; in a cluster cert rotation does this.
		"--cert-rotation=false",
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", b.ProbePort),
		"--metrics-bind-address=0",
	}, flags...), append([]string{"KUBECONFIG=" + kubeconfig}, env...))
	if err != nil {
		return nil, err
	}
	if err := waitReady(b.ProbePort, b.proc.Exited); err != nil {
		b.Stop()
		return nil, fmt.Errorf("%w (log: %s)", err, filepath.Join(c.Dir, "logs", "xr-webhook.log"))
	}
	if err := applyConfigs(ctx, c, configs, b.Port, ca); err != nil {
		b.Stop()
		return nil, err
	}
	return b, nil
}

// serviceAccountKubeconfig writes the admin kubeconfig with impersonation of xr-webhook's
// ServiceAccount, the identity the Deployment's pods have in a cluster.
func serviceAccountKubeconfig(c *sandbox.Cluster) (string, error) {
	cfg, err := c.Kubeconfig()
	if err != nil {
		return "", err
	}
	for _, a := range cfg.AuthInfos {
		a.Impersonate = ServiceAccount
		a.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + Namespace, "system:authenticated"}
	}
	path := filepath.Join(c.Dir, "xr-webhook.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("write xr-webhook kubeconfig: %w", err)
	}
	return path, nil
}

// PeakRSS is the process's peak resident set size in bytes.
func (b *Binary) PeakRSS() (int64, error) { return b.proc.PeakRSS() }

// RSSParts is the process's resident memory now: anonymous and file-backed pages.
func (b *Binary) RSSParts() (anon, file int64, err error) { return b.proc.RSSParts() }
