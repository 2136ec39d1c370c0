#!/usr/bin/env bash
# Everything a release needs, into dist/: the krew archives, their manifest and
# install.yaml and the Helm chart (hack/dist.sh), xr-webhook's image as an OCI layout tar and a
# docker-archive per platform (hack/image), sha256sums.txt over every file, and
# RELEASE.md saying what goes where (GitHub release assets, the krew-index pull request,
# the image push). The version is checked before anything is built (hack/dist.sh).
#
# Usage: hack/release.sh VERSION
#        PLATFORMS="linux/amd64" IMAGE_PLATFORMS=linux/amd64 DIST=/tmp/d hack/release.sh VERSION
set -euo pipefail
version=${1:?usage: hack/release.sh VERSION (vMAJOR.MINOR.PATCH)}
cd "$(dirname "$0")/.."
dist=${DIST:-dist}
export DIST=$dist
hack/dist.sh "$version"
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
created=$(git log -1 --format=%ct 2>/dev/null || echo 0)
image_platforms=${IMAGE_PLATFORMS:-linux/amd64,linux/arm64}
digest_ref=$(go run ./hack/image -version "$version" -revision "$revision" -created "$created" -platforms "$image_platforms" -out "$dist")
# One sums file for every asset (dist.sh wrote the archives' already).
(cd "$dist" && for f in xr.yaml install.yaml xr-webhook-*.tgz xr-webhook_*.tar; do sha256sum "$f"; done) >>"$dist/sha256sums.txt"
cat >"$dist/RELEASE.md" <<NOTES
# kubectl-xr $version

Commit $revision. Every file here is listed in sha256sums.txt.

1. GitHub release $version of kubexr/kubectl-xr: attach $(cd "$dist" && ls kubectl-xr_*.tar.gz kubectl-xr_*.zip 2>/dev/null | tr '\n' ' ')install.yaml, the Helm chart xr-webhook-${version#v}.tgz
   (\`helm install xr-webhook xr-webhook-${version#v}.tgz -n kubexr-system --create-namespace\`) and sha256sums.txt
   (xr.yaml's URIs point at these archives).
2. The image: \`make push VERSION=$version IMAGE=ghcr.io/kubexr/xr-webhook\` pushes the same index
   ($digest_ref) — install.yaml and \`kubectl xr install\` of this release deploy
   ghcr.io/kubexr/xr-webhook:$version. Without a registry: \`ctr images import xr-webhook_$version.oci.tar\`,
   or \`kind load image-archive xr-webhook_${version}_linux_<arch>.docker.tar\`.
3. krew-index: copy xr.yaml to plugins/xr.yaml in a fork of kubernetes-sigs/krew-index and open the
   pull request (krew's own validation ran on it in this project's tests).
NOTES
echo "release: $dist/sha256sums.txt lists $(wc -l <"$dist/sha256sums.txt") files; $dist/RELEASE.md says where each goes" >&2
