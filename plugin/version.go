package plugin

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubexr/kubectl-xr/internal/version"
)

// VersionOptions prints the plugin's version.
type VersionOptions struct {
	genericiooptions.IOStreams
}

// NewCmdVersion builds `kubectl xr version`.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{IOStreams: streams}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the kubectl-xr version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return o.Run()
		},
	}
}

// Run prints the version.
func (o *VersionOptions) Run() error {
	_, err := fmt.Fprintf(o.Out, "kubectl-xr %s\n", version.Version)
	return err
}
