package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Liqoctl runs Liqo's own liqoctl v1.2.0 against this cluster (its kubeconfig); its output
// is appended to <cluster>/logs/liqoctl.log and returned. A failure's error carries the
// output's last lines.
func (c *Cluster) Liqoctl(ctx context.Context, args ...string) (string, error) {
	if c.liqo == nil {
		return "", fmt.Errorf("cluster %s runs without Liqo (ClusterOptions.Liqo)", c.Name)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(c.liqo.bins, "liqoctl"), append(args, "--kubeconfig", c.KubeconfigPath)...)
	// Never the user's kubeconfig: only the one passed above.
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	logPath := filepath.Join(c.Dir, "logs", "liqoctl.log")
	if f, ferr := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); ferr == nil {
		fmt.Fprintf(f, "$ liqoctl %s\n%s\n", strings.Join(args, " "), out.String())
		f.Close()
	}
	if err != nil {
		return out.String(), fmt.Errorf("liqoctl %s: %w\n%s", args[0], err, lastLines(out.String(), 15))
	}
	return out.String(), nil
}

// LiqoctlBinary is the path of Liqo's liqoctl v1.2.0 ("" without Liqo), for callers that
// time it as a process of its own.
func (c *Cluster) LiqoctlBinary() string {
	if c.liqo == nil {
		return ""
	}
	return filepath.Join(c.liqo.bins, "liqoctl")
}

// Peer peers consumer with provider through Liqo's own peering code (liqoctl peer, with
// networking disabled: no gateways run) and waits until the provider's virtual node is
// Ready on the consumer.
func (c *Cluster) Peer(ctx context.Context, provider *Cluster) error {
	if provider.liqo == nil {
		return fmt.Errorf("cluster %s runs without Liqo (ClusterOptions.Liqo)", provider.Name)
	}
	if _, err := c.Liqoctl(ctx, "peer", "--remote-kubeconfig", provider.KubeconfigPath,
		"--networking-disabled", "--timeout", "3m"); err != nil {
		return err
	}
	// liqoctl names the VirtualNode, and so the Node, after the provider's cluster id.
	_, err := c.WaitNodeReady(ctx, provider.Name)
	return err
}

// Unpeer removes the peering with provider through liqoctl unpeer and waits until the
// provider's virtual node is gone. Gateways to provider, if any, are stopped first.
func (c *Cluster) Unpeer(ctx context.Context, provider *Cluster) error {
	c.closeGateway(provider.Name)
	if _, err := c.Liqoctl(ctx, "unpeer", "--remote-kubeconfig", provider.KubeconfigPath, "--timeout", "3m"); err != nil {
		return err
	}
	return c.WaitNodeGone(ctx, provider.Name)
}

// WaitNodeGone waits until node name no longer exists.
func (c *Cluster) WaitNodeGone(ctx context.Context, name string) error {
	return poll(ctx, 200*time.Millisecond, 2*time.Minute, "node "+name+" deleted", func(ctx context.Context) (bool, error) {
		_, err := c.Clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
