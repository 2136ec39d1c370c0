//go:build tools

// Package tools pins krew, which the tests use to install kubectl-xr from its krew
// manifest and archive exactly as users will.
package tools

import (
	_ "sigs.k8s.io/krew/cmd/krew"
	_ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
)
