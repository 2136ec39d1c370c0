#!/usr/bin/env bash
# Builds the real Kubernetes binaries the tests run (kube-apiserver, kube-scheduler,
# kube-controller-manager, kubelet, kubectl, etcd, kwok) and Liqo's (liqo-controller-manager,
# crd-replicator, webhook, virtual-kubelet, liqoctl, gateway, gateway-wireguard) and Cluster
# API's core manager from the Go module proxy, so no test ever downloads a prebuilt binary.
# Each binary is cached by version outside the checkout (fresh clones and CI reuse it) and
# skipped when present.
#
# Usage: hack/testbins.sh            build what is missing, print the assets directory
#        hack/testbins.sh --print    only print the assets directory
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/testbins-env.sh
source "$here/testbins-env.sh"

if [[ "${1:-}" == "--print" ]]; then
	echo "$KUBEBUILDER_ASSETS"
	exit 0
fi

mkdir -p "$KUBEBUILDER_ASSETS"

log() { echo "testbins: $*" >&2; }

# build MODULE_DIR PACKAGE OUTPUT [LDFLAGS]: build PACKAGE inside its wrapper module into
# OUTPUT atomically, so an interrupted build never leaves a half-written binary in the cache.
build() {
	local moddir=$1 pkg=$2 out=$3 ldflags=${4:-}
	if [[ -x "$out" ]]; then
		return 0
	fi
	log "building $(basename "$out") from $pkg (cold builds take minutes)"
	local start=$SECONDS
	(cd "$here/testbins/$moddir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg")
	mv "$out.tmp" "$out"
	log "built $(basename "$out") in $((SECONDS - start))s"
}

k8s_ldflags="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
-X k8s.io/component-base/version.gitMajor=${K8S_VERSION_MAJOR} \
-X k8s.io/component-base/version.gitMinor=${K8S_VERSION_MINOR} \
-X k8s.io/component-base/version.gitTreeState=clean \
-X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION \
-X k8s.io/client-go/pkg/version.gitMajor=${K8S_VERSION_MAJOR} \
-X k8s.io/client-go/pkg/version.gitMinor=${K8S_VERSION_MINOR}"

build etcd go.etcd.io/etcd/server/v3 "$KUBEBUILDER_ASSETS/etcd"
build kwok sigs.k8s.io/kwok/cmd/kwok "$KUBEBUILDER_ASSETS/kwok"
for cmd in kube-apiserver kube-scheduler kubectl kube-controller-manager kubelet; do
	build k8s "k8s.io/kubernetes/cmd/$cmd" "$KUBEBUILDER_ASSETS/$cmd" "$k8s_ldflags"
done

# Real nodes (sandbox.ClusterOptions.RealNodes) run the kubelet above on containerd, runc
# and the CNI plugins from Debian's packages. Installed here when missing and we are root
# (apt-get, nothing else); without root the real-node tests say so and skip.
real_node_pkgs=()
command -v containerd >/dev/null || real_node_pkgs+=(containerd)
command -v runc >/dev/null || [[ -x /usr/sbin/runc ]] || real_node_pkgs+=(runc)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || real_node_pkgs+=(containernetworking-plugins)
if ((${#real_node_pkgs[@]})); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		log "installing ${real_node_pkgs[*]} from Debian's packages for the real-node tests"
		# A policy-rc.d that says no keeps dpkg from starting containerd as a host service
		# (the tests start their own, one per node).
		made_policy=""
		if [[ ! -e /usr/sbin/policy-rc.d ]]; then
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
		fi
		DEBIAN_FRONTEND=noninteractive apt-get install -qq -y --no-install-recommends "${real_node_pkgs[@]}" >/dev/null ||
			{ apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -qq -y --no-install-recommends "${real_node_pkgs[@]}" >/dev/null; } ||
			log "apt-get could not install ${real_node_pkgs[*]}: the real-node tests will skip"
		[[ -z "$made_policy" ]] || rm -f /usr/sbin/policy-rc.d
	else
		log "not root (or no apt-get): ${real_node_pkgs[*]} not installed; the real-node tests will skip"
	fi
fi

# Liqo's control plane and gateways, at Liqo's own pins (hack/testbins/liqo).
mkdir -p "$KUBEXR_LIQO_BINS"
build liqo github.com/liqotech/liqo/cmd/liqoctl "$KUBEXR_LIQO_BINS/liqoctl" \
	"-X github.com/liqotech/liqo/pkg/liqoctl/version.LiqoctlVersion=$LIQO_VERSION"
for cmd in liqo-controller-manager crd-replicator webhook virtual-kubelet gateway gateway/wireguard; do
	out=$KUBEXR_LIQO_BINS/${cmd//\//-}
	build liqo "github.com/liqotech/liqo/cmd/$cmd" "$out"
done

# Cluster API's core manager, at Cluster API's own pins (hack/testbins/capi), stamped with
# its version as Cluster API's release build does.
mkdir -p "$KUBEXR_CAPI_BINS"
build capi sigs.k8s.io/cluster-api/core "$KUBEXR_CAPI_BINS/cluster-api-manager" \
	"-X sigs.k8s.io/cluster-api/version.gitVersion=$CAPI_VERSION"

mkdir -p "$(dirname "$KUBEXR_KREW")"
build krew sigs.k8s.io/krew/cmd/krew "$KUBEXR_KREW"
build krew sigs.k8s.io/krew/cmd/validate-krew-manifest "$(dirname "$KUBEXR_KREW")/validate-krew-manifest"

# kwok exits "no stages found" without stage files; ship the ones from its own module.
stages="$KUBEBUILDER_ASSETS/kwok-stages"
if [[ ! -d "$stages" ]]; then
	kwokdir=$(cd "$here/testbins/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
	mkdir -p "$stages.tmp"
	cp "$kwokdir"/kustomize/stage/node/fast/node-initialize.yaml \
		"$kwokdir"/kustomize/stage/node/heartbeat/node-heartbeat.yaml \
		"$kwokdir"/kustomize/stage/pod/general/pod-*.yaml "$stages.tmp/"
	chmod -R u+w "$stages.tmp"
	mv "$stages.tmp" "$stages"
fi

echo "$KUBEBUILDER_ASSETS"
