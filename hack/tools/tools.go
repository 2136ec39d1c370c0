//go:build tools

// Package tools keeps modules in go.mod whose files, not packages, the project uses:
// the test harness installs Cluster API's CRDs from sigs.k8s.io/cluster-api's module
// folder (core/config/crd/bases), which `go mod tidy` would otherwise drop.
package tools

import _ "sigs.k8s.io/cluster-api/util/kubeconfig"
