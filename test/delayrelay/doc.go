// Package delayrelay is a UDP forwarder that holds each direction's datagrams for a
// configurable, changeable delay and can drop everything to simulate a cut link.
//
// The sandbox puts it on the WireGuard underlay between two Liqo gateways, because this
// machine's kernel has no netem: Liqo's own connection check then measures the delay the
// relay adds, exactly as it would measure a wide-area link. It is test infrastructure,
// imports nothing from Kubernetes, and is unit-tested on its own.
package delayrelay
