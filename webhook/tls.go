package webhook

import "crypto/tls"

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
