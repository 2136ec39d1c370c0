//go:build tools

// Package tools pins the kwok command that `make testbins` builds.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
