// Command pause is the sandbox's pod sandbox ("pause") image for real nodes: it holds a
// pod's namespaces until it is told to stop, and reaps the zombies it inherits as PID 1.
// Ours because no registry is reachable from the test bed (registry.k8s.io/pause is
// the same program in C).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			return
		}
		for {
			var status syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
