// Package xrkube translates Kubernetes and Liqo objects into policy's inputs: the hint
// sources of a pod (its owners and namespace), the LatencyClasses, a namespace's
// NamespaceOffloading and the virtual nodes of each peered cluster. The webhook reads
// through informer caches and the plugin through the API server; both call this package
// so the two never disagree on how an object is read.
package xrkube
