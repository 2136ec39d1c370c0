#!/usr/bin/env bash
# Cross-builds kubectl-xr for the platforms krew serves, packs each into an archive
# (.tar.gz, .zip for windows) with LICENSE, README.md and the completion helper, writes
# their sha256s, and renders krew/xr.yaml into dist/xr.yaml with the real values
# (hack/krewmanifest.go), and dist/install.yaml: xr-webhook's objects with the release's
# image (hack/installyaml.go).
#
# Usage: hack/dist.sh VERSION                            all six platforms into dist/
#        PLATFORMS="linux/amd64" DIST=/tmp/d hack/dist.sh VERSION   only those, elsewhere
#        (the rendered manifest then lists only the platforms built)
set -euo pipefail
version=${1:?usage: hack/dist.sh VERSION}
# krew and its index need a semantic version with a v prefix (krew's own check).
semver='^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$'
if [[ ! $version =~ $semver ]]; then
	echo "dist: VERSION \"$version\" is not a semantic version: use vMAJOR.MINOR.PATCH, e.g. make dist VERSION=v0.3.0" >&2
	exit 2
fi
cd "$(dirname "$0")/.."
platforms=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64}
dist=${DIST:-dist}
rm -rf "$dist" && mkdir -p "$dist"
for platform in $platforms; do
	os=${platform%/*} arch=${platform#*/}
	ext="" archive_ext=tar.gz
	if [[ $os == windows ]]; then ext=.exe archive_ext=zip; fi
	stage="$dist/$os-$arch"
	mkdir -p "$stage"
	echo "dist: building $os/$arch" >&2
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
		-ldflags "-s -w -X github.com/kubexr/kubectl-xr/internal/version.Version=$version" -o "$stage/kubectl-xr$ext" ./cmd/kubectl-xr
	cp LICENSE README.md krew/kubectl_complete-xr "$stage/"
	archive="$dist/kubectl-xr_${version}_${os}_${arch}.$archive_ext"
	if [[ $archive_ext == zip ]]; then
		go run hack/zip.go "$archive" -C "$stage" kubectl-xr.exe LICENSE README.md kubectl_complete-xr
	else
		tar -C "$stage" -czf "$archive" kubectl-xr LICENSE README.md kubectl_complete-xr
	fi
	sum=$(sha256sum "$archive" | cut -d' ' -f1)
	echo "$sum  $(basename "$archive")" >>"$dist/sha256sums.txt"
done
go run hack/krewmanifest.go "$version" "$dist"
go run hack/installyaml.go "$version" "$dist"
go run hack/chartpackage.go "$version" "$dist"
echo "dist: $(ls "$dist"/*.tar.gz "$dist"/*.zip 2>/dev/null | wc -l) archives, $dist/sha256sums.txt, $dist/xr.yaml, $dist/install.yaml and the Helm chart $dist/xr-webhook-${version#v}.tgz (image ghcr.io/kubexr/xr-webhook:$version; make image builds it)" >&2
