package sandbox

// This file runs the REAL Cluster API v1.14.2 core manager (sigs.k8s.io/cluster-api/core,
// built by make testbins at Cluster API's own pins) against a cluster of the sandbox, which
// then is a management cluster: its Cluster, Machine… controllers and its webhooks
// (defaulting, validation, and conversion between v1beta1 and v1beta2) served on loopback
// the way the harness serves Liqo's (liqo.go). Infrastructure and control planes come from
// a provider such as test/capilocal.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ClusterAPIBinary returns Cluster API's core manager, or an error saying how to build it.
func ClusterAPIBinary() (string, error) {
	dir := os.Getenv("KUBEXR_CAPI_BINS")
	if dir == "" {
		return "", fmt.Errorf("KUBEXR_CAPI_BINS is not set: run `make testbins` and use `make test`, " +
			"or export KUBEXR_CAPI_BINS=$(source hack/testbins-env.sh; echo $KUBEXR_CAPI_BINS)")
	}
	bin := filepath.Join(dir, "cluster-api-manager")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("cluster-api-manager is missing from KUBEXR_CAPI_BINS=%s: run `make testbins`", dir)
	}
	return bin, nil
}

// capiModule is where Cluster API's manifests sit in the module cache (go.mod's version).
const capiModule = "sigs.k8s.io/cluster-api"

// capiWebhookPrefix names the sandbox's copies of Cluster API's webhook configurations.
const capiWebhookPrefix = "capi-"

// startClusterAPI points Cluster API's webhook configurations and its CRDs' conversion at
// a local port with the cluster's CA, then starts the manager serving there.
func (c *Cluster) startClusterAPI(ctx context.Context) error {
	bin, err := ClusterAPIBinary()
	if err != nil {
		return err
	}
	modDir, err := ModuleDir(capiModule)
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	certDir, err := c.servingCerts("capi-webhook")
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(c.PKI.CACert)
	if err != nil {
		return err
	}
	hooks, err := capiWebhookConfigurations(filepath.Join(modDir, "core", "config", "webhook", "manifests.yaml"), port, ca)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if err := c.Client.Create(ctx, h); err != nil {
			return fmt.Errorf("create %s %s: %w", h.GetKind(), h.GetName(), err)
		}
	}
	if err := c.convertCAPICRDsThrough(ctx, port, ca); err != nil {
		return err
	}
	healthPort, err := freePort()
	if err != nil {
		return err
	}
	if _, err := c.start("cluster-api-manager", bin, []string{
		"--webhook-port=" + strconv.Itoa(port), "--webhook-cert-dir=" + certDir,
		"--health-addr=127.0.0.1:" + strconv.Itoa(healthPort),
		// "0" turns the metrics server off; its default (:8443) would collide between sandboxes.
		"--diagnostics-address=0", "--insecure-diagnostics",
		// A workload cluster that stops answering shows in its RemoteConnectionProbe
		// condition after 10 s instead of 50 s: the sandbox's clusters answer in
		// milliseconds. (It does not change how often Cluster API retries a connection.)
		"--remote-connection-grace-period=10s",
	}, []string{"KUBECONFIG=" + c.KubeconfigPath}); err != nil {
		return err
	}
	if err := waitTCP(ctx, "Cluster API's webhooks", port); err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	return nil
}

// servingCerts issues a serving certificate for 127.0.0.1 into a folder as tls.crt and
// tls.key, where controller-runtime's webhook servers look for them.
func (c *Cluster) servingCerts(name string) (string, error) {
	cert, key, err := c.PKI.Issue(name, name, nil, []string{"localhost"},
		[]net.IP{net.ParseIP("127.0.0.1")}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(c.Dir, name+"-serving-certs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	for src, dst := range map[string]string{cert: "tls.crt", key: "tls.key"} {
		if err := copyFile(src, filepath.Join(dir, dst)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// capiWebhookConfigurations reads Cluster API's generated webhook configurations and points
// every webhook at https://127.0.0.1:port with the sandbox CA (kustomize and cert-manager
// do that in a real installation).
func capiWebhookConfigurations(path string, port int, ca []byte) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if err := PointWebhooksAt(u, port, ca); err != nil {
			return nil, err
		}
		u.SetName(capiWebhookPrefix + u.GetName())
		out = append(out, u)
	}
	if len(out) != 2 {
		return nil, fmt.Errorf("%s: want a mutating and a validating webhook configuration, found %d objects", path, len(out))
	}
	return out, nil
}

// convertCAPICRDsThrough sets every Cluster API CRD's conversion to the manager's /convert,
// as Cluster API's kustomize patches (core/config/crd/patches) do in a real installation.
func (c *Cluster) convertCAPICRDsThrough(ctx context.Context, port int, ca []byte) error {
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := c.Client.List(ctx, &crds); err != nil {
		return err
	}
	url := fmt.Sprintf("https://127.0.0.1:%d/convert", port)
	n := 0
	for i := range crds.Items {
		crd := &crds.Items[i]
		if !strings.HasSuffix(crd.Spec.Group, "cluster.x-k8s.io") {
			continue
		}
		patch := client.MergeFrom(crd.DeepCopy())
		crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{
			Strategy: apiextensionsv1.WebhookConverter,
			Webhook: &apiextensionsv1.WebhookConversion{
				ConversionReviewVersions: []string{"v1"},
				ClientConfig:             &apiextensionsv1.WebhookClientConfig{URL: &url, CABundle: ca},
			},
		}
		if err := c.Client.Patch(ctx, crd, patch); err != nil {
			return fmt.Errorf("point %s's conversion at Cluster API's webhook: %w", crd.Name, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("no Cluster API CRD installed on %s", c.Name)
	}
	return nil
}

// PointWebhooksAt replaces each webhook's service reference in a webhook configuration
// with https://127.0.0.1:port and the cluster's CA, as kustomize and a CA injector would
// wire them in a real installation; rules, selectors, matchConditions and policies stay
// as shipped.
func PointWebhooksAt(o *unstructured.Unstructured, port int, ca []byte) error {
	hooks, _, err := unstructured.NestedSlice(o.Object, "webhooks")
	if err != nil {
		return err
	}
	for i := range hooks {
		h := hooks[i].(map[string]any)
		path, _, _ := unstructured.NestedString(h, "clientConfig", "service", "path")
		h["clientConfig"] = map[string]any{
			"url":      fmt.Sprintf("https://127.0.0.1:%d%s", port, path),
			"caBundle": base64.StdEncoding.EncodeToString(ca),
		}
	}
	return unstructured.SetNestedSlice(o.Object, hooks, "webhooks")
}
