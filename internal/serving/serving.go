// Package serving holds what xr-webhook and xr-capi-peerer serve alike: TLS settings,
// /metrics behind authentication and authorization, and the loopback check for what is
// served without them.
package serving

import (
	"crypto/tls"
	"net"

	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// TLSOptions are the TLS settings of the webhook and metrics servers: TLS 1.2 or newer
// with Go's default cipher suites (stated rather than inherited, so a change of default
// cannot lower them), and HTTP/1.1 only. The API server speaks HTTP/1.1 to webhooks;
// offering HTTP/2 would only expose the server to HTTP/2 attacks such as rapid reset
// (CVE-2023-44487), as Kubernetes' own guidance for webhooks notes.
func TLSOptions() []func(*tls.Config) {
	return []func(*tls.Config){func(c *tls.Config) {
		c.MinVersion = tls.VersionTLS12
		c.NextProtos = []string{"http/1.1"}
	}}
}

// MetricsOptions serve /metrics at addr over HTTPS behind controller-runtime's
// authentication and authorization filter (TokenReview, then SubjectAccessReview for get
// on /metrics), with a self-signed certificate, or, when secure is false, as plain HTTP
// (callers allow that on Loopback addresses only).
func MetricsOptions(addr string, secure bool) metricsserver.Options {
	if !secure {
		return metricsserver.Options{BindAddress: addr}
	}
	return metricsserver.Options{BindAddress: addr, SecureServing: true,
		FilterProvider: filters.WithAuthenticationAndAuthorization, TLSOpts: TLSOptions()}
}

// Loopback says whether addr (host:port) binds to the loopback interface only.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
