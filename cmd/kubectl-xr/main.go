// Command kubectl-xr is the kubectl plugin (kubectl xr …).
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubexr/kubectl-xr/plugin"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if err := plugin.Execute(streams, os.Args[1:]); err != nil {
		os.Exit(1)
	}
}
