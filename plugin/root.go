package plugin

import (
	"fmt"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCmdRoot builds `kubectl xr` with its subcommands.
func NewCmdRoot(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	cmd := &cobra.Command{
		Use:           "xr",
		Short:         "Place latency-critical XR workloads on Liqo-peered clusters by measured latency",
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl xr"},
	}
	flags.AddFlags(cmd.PersistentFlags())
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	cmd.AddCommand(
		NewCmdVersion(streams),
		NewCmdHint(flags, streams),
		NewCmdClasses(flags, streams),
		NewCmdOffload(flags, streams),
		NewCmdPeer(flags, streams),
		NewCmdExplain(flags, streams),
		NewCmdInstall(flags, streams),
		NewCmdUninstall(flags, streams),
	)
	return cmd
}

// Execute runs the root command with args, printing any error as one line on ErrOut.
func Execute(streams genericiooptions.IOStreams, args []string) error {
	// Liqo's and controller-runtime's libraries log through controller-runtime's logger:
	// a command-line tool reports through its output, not logs.
	ctrllog.SetLogger(logr.Discard())
	cmd := NewCmdRoot(streams)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
		return err
	}
	return nil
}
