# Sourced by hack/testbins.sh and the Makefile: the versions of the test binaries and the
# cache directory they live in. The directory name carries every version, so changing one
# builds into a new directory and never mixes binaries of different releases.
K8S_VERSION=v1.37.2
K8S_VERSION_MAJOR=1
K8S_VERSION_MINOR=37
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0
LIQO_VERSION=v1.2.0
KREW_VERSION=v0.4.3

TESTBINS_CACHE=${KUBEXR_TESTBINS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-xr/testbins}
KUBEBUILDER_ASSETS="$TESTBINS_CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
export KUBEBUILDER_ASSETS

# Liqo's commands are built at Liqo's own dependency pins, so they get their own directory.
KUBEXR_LIQO_BINS="$TESTBINS_CACHE/liqo-$LIQO_VERSION"
export KUBEXR_LIQO_BINS

# krew (and its validate-krew-manifest next to it), to check and install kubectl-xr from its
# manifest and archive in the tests as users will.
KUBEXR_KREW="$TESTBINS_CACHE/krew-$KREW_VERSION/krew"
export KUBEXR_KREW

# Cluster API's core manager, built at Cluster API's own dependency pins (hack/testbins/capi).
CAPI_VERSION=v1.14.2
KUBEXR_CAPI_BINS="$TESTBINS_CACHE/cluster-api-$CAPI_VERSION"
export KUBEXR_CAPI_BINS
