//go:build tools

// Package tools pins Liqo's commands that `make testbins` builds. They live in their own
// module because Liqo v1.2.0 is built at its own dependency pins (k8s.io v0.35,
// controller-runtime v0.23), not at the project's.
package tools

import (
	_ "github.com/liqotech/liqo/cmd/crd-replicator"
	_ "github.com/liqotech/liqo/cmd/gateway"
	_ "github.com/liqotech/liqo/cmd/gateway/wireguard"
	_ "github.com/liqotech/liqo/cmd/liqo-controller-manager"
	_ "github.com/liqotech/liqo/cmd/liqoctl"
	_ "github.com/liqotech/liqo/cmd/virtual-kubelet"
	_ "github.com/liqotech/liqo/cmd/webhook"
)
