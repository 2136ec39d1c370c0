package webhook

import (
	"crypto/tls"

	"github.com/kubexr/kubectl-xr/internal/serving"
)

// TLSOptions are serving.TLSOptions: TLS 1.2 or newer, HTTP/1.1 only.
func TLSOptions() []func(*tls.Config) { return serving.TLSOptions() }
