// Command xr-webhook will run the admission webhook and latency observer. It is not
// implemented yet (see the open xr-webhook issue); it says so instead of pretending.
package main

import (
	"fmt"
	"os"

	"github.com/kubexr/kubectl-xr/internal/version"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Printf("xr-webhook %s\n", version.Version)
		return
	}
	fmt.Fprintln(os.Stderr, "xr-webhook: not implemented yet; nothing is served")
	os.Exit(1)
}
