#!/usr/bin/env bash
# Cross-builds kubectl-xr for the platforms krew serves into dist/<os>-<arch>/.
set -euo pipefail
version=${1:-dev}
cd "$(dirname "$0")/.."
for platform in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
	os=${platform%/*} arch=${platform#*/}
	ext=""; [[ $os == windows ]] && ext=.exe
	out="dist/$os-$arch/kubectl-xr$ext"
	echo "dist: $out"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
		-ldflags "-s -w -X github.com/kubexr/kubectl-xr/internal/version.Version=$version" -o "$out" ./cmd/kubectl-xr
done
