package sandbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"
)

// tlsClientFiles are the PEM files of a client that trusts ca and presents cert/key.
type tlsClientFiles struct{ ca, cert, key string }

func (f *tlsClientFiles) config() (*tls.Config, error) {
	caPEM, err := os.ReadFile(f.ca)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return nil, fmt.Errorf("load client cert: %w", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// waitHTTP polls url until it answers 200, failing early (with the log's tail) if p exits.
func waitHTTP(ctx context.Context, p *process, url string, tlsFiles *tlsClientFiles, timeout time.Duration) error {
	transport := &http.Transport{}
	if tlsFiles != nil {
		cfg, err := tlsFiles.config()
		if err != nil {
			return err
		}
		transport.TLSClientConfig = cfg
	}
	httpClient := &http.Client{Transport: transport, Timeout: 2 * time.Second}
	defer transport.CloseIdleConnections()
	return poll(ctx, 100*time.Millisecond, timeout, p.name+" to be ready", func(ctx context.Context) (bool, error) {
		if done, err := p.exited(); done {
			return false, fmt.Errorf("%s %w (%v); log tail:\n%s", p.name, errExited, err, tail(p.logPath, 20))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			return false, err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("%s answered %d", url, resp.StatusCode)
		}
		return true, nil
	})
}
