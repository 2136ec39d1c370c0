package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// serviceAccountDir is where the kubelet mounts the pod's ServiceAccount token and CA.
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// api reads EndpointSlices with the pod's ServiceAccount (a few fields of JSON need no
// client library, which keeps the image small).
type api struct {
	base, namespace string
	tokenFile       string
	http            *http.Client
}

func inClusterAPI() (*api, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, fmt.Errorf("--service needs to run in a pod (KUBERNETES_SERVICE_HOST unset); use --render HOST:PORT outside one")
	}
	ca, err := os.ReadFile(filepath.Join(serviceAccountDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("--service needs the pod's ServiceAccount: %w", err)
	}
	ns, err := os.ReadFile(filepath.Join(serviceAccountDir, "namespace"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s/ca.crt", serviceAccountDir)
	}
	return &api{
		base:      "https://" + net.JoinHostPort(host, port),
		namespace: strings.TrimSpace(string(ns)),
		tokenFile: filepath.Join(serviceAccountDir, "token"),
		http: &http.Client{Timeout: 5 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}},
	}, nil
}

type endpointSliceList struct {
	Items []struct {
		Endpoints []struct {
			Addresses  []string `json:"addresses"`
			Conditions struct {
				Ready *bool `json:"ready"`
			} `json:"conditions"`
		} `json:"endpoints"`
		Ports []struct {
			Name     *string `json:"name"`
			Port     *int32  `json:"port"`
			Protocol *string `json:"protocol"`
		} `json:"ports"`
	} `json:"items"`
}

// readyEndpoints returns host:port of every ready endpoint of service's UDP port portName.
func (a *api) readyEndpoints(ctx context.Context, service, portName string) ([]string, error) {
	q := url.Values{"labelSelector": {"kubernetes.io/service-name=" + service}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		a.base+"/apis/discovery.k8s.io/v1/namespaces/"+a.namespace+"/endpointslices?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	token, err := os.ReadFile(a.tokenFile) // re-read: the kubelet rotates it
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list the EndpointSlices of %s: %w", service, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list the EndpointSlices of %s: %s", service, resp.Status)
	}
	return parseReadyEndpoints(body, portName)
}

func parseReadyEndpoints(body []byte, portName string) ([]string, error) {
	var list endpointSliceList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("EndpointSlices: %w", err)
	}
	var out []string
	for _, s := range list.Items {
		port := int32(0)
		for _, p := range s.Ports {
			if p.Name != nil && *p.Name == portName && p.Port != nil && p.Protocol != nil && *p.Protocol == "UDP" {
				port = *p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 || (e.Conditions.Ready != nil && !*e.Conditions.Ready) {
				continue
			}
			out = append(out, net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(port))))
		}
	}
	return out, nil
}
