package plugin

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	"github.com/pterm/pterm"
	"golang.org/x/term"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCmdRoot builds `kubectl xr` with its subcommands.
func NewCmdRoot(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:           "xr",
		Short:         "Place latency-critical XR workloads on Liqo-peered clusters by measured latency",
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl xr"},
	}
	flags := newGlobalFlags(cmd.PersistentFlags())
	registerGlobalCompletions(cmd, flags)
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
		NewCmdDoctor(flags, streams),
	)
	return cmd
}

// Execute runs the root command with args, printing any error as one line on ErrOut.
func Execute(streams genericiooptions.IOStreams, args []string) error {
	// Liqo's and controller-runtime's libraries log through controller-runtime's logger:
	// a command-line tool reports through its output, not logs.
	ctrllog.SetLogger(logr.Discard())
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	// Liqo's spinners redraw their line with escape codes, which only a terminal renders;
	// elsewhere (pipes, CI logs) they print each step once, as plain lines.
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		pterm.DisableStyling()
	}
	cmd := NewCmdRoot(streams)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(streams.ErrOut, "error: %s\n", oneLine(err))
		return err
	}
	return nil
}

// oneLine folds a multi-line error (joined errors, Liqo's wrapped output) into one line.
func oneLine(err error) string {
	fields := strings.FieldsFunc(err.Error(), func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	return strings.Join(slices.DeleteFunc(fields, func(s string) bool { return s == "" }), "; ")
}
