//go:build tools

// Package tools pins Cluster API's core manager that `make testbins` builds. It lives in
// its own module because Cluster API v1.14.2 is built at its own dependency pins (k8s.io
// v0.36, controller-runtime v0.24), not at the project's.
package tools

import (
	_ "sigs.k8s.io/cluster-api/core"
)
