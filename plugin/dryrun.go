package plugin

import (
	"github.com/spf13/cobra"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// dryRun is kubectl's --dry-run=none|client|server on a command that writes: client
// prints what would be sent and sends nothing; server sends every write with
// dryRun=All, so the API server (and its admission webhooks) judge it and persist
// nothing. A bare --dry-run means client, as in kubectl.
type dryRun struct {
	cmd      *cobra.Command
	strategy cmdutil.DryRunStrategy
}

func addDryRun(cmd *cobra.Command) *dryRun {
	cmdutil.AddDryRunFlag(cmd)
	return &dryRun{cmd: cmd}
}

// Complete reads the flag: one line naming the accepted values when it is none of them.
func (d *dryRun) Complete() error {
	s, err := cmdutil.GetDryRunStrategy(d.cmd)
	d.strategy = s
	return err
}

func (d *dryRun) none() bool   { return d.strategy == cmdutil.DryRunNone }
func (d *dryRun) client() bool { return d.strategy == cmdutil.DryRunClient }
func (d *dryRun) server() bool { return d.strategy == cmdutil.DryRunServer }

// suffix is what kubectl appends to a dry run's messages.
func (d *dryRun) suffix() string {
	switch d.strategy {
	case cmdutil.DryRunClient:
		return " (dry run)"
	case cmdutil.DryRunServer:
		return " (server dry run)"
	}
	return ""
}

// patchOpts, deleteOpts and createOpts are the write options of a server dry run
// (none otherwise).
func (d *dryRun) patchOpts() []client.PatchOption {
	if d.server() {
		return []client.PatchOption{client.DryRunAll}
	}
	return nil
}

func (d *dryRun) deleteOpts() []client.DeleteOption {
	if d.server() {
		return []client.DeleteOption{client.DryRunAll}
	}
	return nil
}

func (d *dryRun) createOpts() []client.CreateOption {
	if d.server() {
		return []client.CreateOption{client.DryRunAll}
	}
	return nil
}
