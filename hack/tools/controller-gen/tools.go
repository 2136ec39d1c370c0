//go:build tools

// Package tools pins controller-gen, which generates the LatencyClass deepcopy and CRD.
package tools

import _ "sigs.k8s.io/controller-tools/cmd/controller-gen"
