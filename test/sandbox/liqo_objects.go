package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

const liqoModule = "github.com/liqotech/liqo"

const appNameLabel = "app.kubernetes.io/name"

// installLiqoChartObjects creates what Liqo v1.2.0's Helm chart would (no helm needed):
// namespace, cluster-id ConfigMap, RuntimeClass, the default VkOptionsTemplate, the
// ClusterRoles and Roles of deployments/liqo/files, and the webhook configurations of
// templates/webhooks rendered with the chart's values and pointed at the local webhook.
func (c *Cluster) installLiqoChartObjects(ctx context.Context, webhookPort int) error {
	chart, err := liqoChartDir()
	if err != nil {
		return err
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: LiqoNamespace}},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "liqo-clusterid-configmap", Namespace: LiqoNamespace,
				Labels: map[string]string{appNameLabel: "clusterid-configmap"}},
			Data: map[string]string{"CLUSTER_ID": c.Name},
		},
		liqoRuntimeClass(),
		liqoVkOptionsTemplate(),
	}
	roles, err := liqoRoles(chart)
	if err != nil {
		return err
	}
	objs = append(objs, roles...)
	for _, o := range objs {
		if err := c.Client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("liqo: create %T %s: %w", o, o.GetName(), err)
		}
	}
	ca, err := os.ReadFile(c.PKI.CACert)
	if err != nil {
		return err
	}
	for _, f := range []string{"liqo-mutating-webhook.yaml", "liqo-validating-webhook.yaml"} {
		u, err := renderLiqoWebhook(filepath.Join(chart, "templates", "webhooks", f), webhookPort, ca)
		if err != nil {
			return err
		}
		if err := c.Client.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("liqo: create %s: %w", u.GetName(), err)
		}
	}
	return nil
}

func liqoChartDir() (string, error) {
	dir, err := ModuleDir(liqoModule)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "deployments", "liqo"), nil
}

// liqoRuntimeClass is templates/runtime-class.yaml with the chart's values.
func liqoRuntimeClass() *nodev1.RuntimeClass {
	return &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "liqo", Labels: map[string]string{appNameLabel: "runtimeclass"}},
		Handler:    "liqo",
		Scheduling: &nodev1.Scheduling{
			NodeSelector: map[string]string{"liqo.io/type": "virtual-node"},
			Tolerations: []corev1.Toleration{{Key: "virtual-node.liqo.io/not-allowed",
				Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}},
		},
	}
}

// liqoVkOptionsTemplate is templates/liqo-vk-options-template.yaml with the chart's
// default values (networking.reflectIPs true, metrics off, AWS off).
func liqoVkOptionsTemplate() *offloadingv1beta1.VkOptionsTemplate {
	workers := func(n uint) offloadingv1beta1.ReflectorConfig {
		return offloadingv1beta1.ReflectorConfig{NumWorkers: n}
	}
	typed := func(n uint) offloadingv1beta1.ReflectorConfig {
		return offloadingv1beta1.ReflectorConfig{NumWorkers: n, Type: offloadingv1beta1.DenyList}
	}
	return &offloadingv1beta1.VkOptionsTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "virtual-kubelet-default", Namespace: LiqoNamespace,
			Labels: map[string]string{appNameLabel: "virtual-kubelet"}},
		Spec: offloadingv1beta1.VkOptionsTemplateSpec{
			Replicas:       ptr.To[int32](1),
			CreateNode:     true,
			ContainerImage: "ghcr.io/liqotech/virtual-kubelet:v1.2.0",
			AnnotationsNotReflected: []string{"cloud.google.com/neg", "cloud.google.com/neg-status",
				"kubernetes.digitalocean.com/load-balancer-id", "ingress.kubernetes.io/backends",
				"ingress.kubernetes.io/forwarding-rule", "ingress.kubernetes.io/target-proxy",
				"ingress.kubernetes.io/url-map", "metallb.universe.tf/address-pool",
				"metallb.universe.tf/ip-allocated-from-pool", "metallb.universe.tf/loadBalancerIPs",
				"loadbalancer.openstack.org/load-balancer-id"},
			PullPolicy: corev1.PullIfNotPresent,
			ReflectorsConfig: map[string]offloadingv1beta1.ReflectorConfig{
				"pod": workers(10), "service": typed(3), "endpointslice": workers(10), "ingress": typed(3),
				"configmap": typed(3), "secret": typed(3), "serviceaccount": workers(3),
				"persistentvolumeclaim": workers(3), "event": typed(3),
			},
			ExtraArgs: []string{"--enable-apiserver-support=true"},
		},
	}
}

// liqoRoles turns files/liqo-<x>-ClusterRole.yaml into ClusterRole liqo-<x> and
// files/liqo-<x>-Role.yaml into Role liqo-<x> in the liqo namespace, labelled
// app.kubernetes.io/name=<x> as the chart does (peering-user roles: peering-user); Liqo's
// tenant controller finds the roles to bind by that label.
func liqoRoles(chart string) ([]client.Object, error) {
	files, err := filepath.Glob(filepath.Join(chart, "files", "liqo-*Role.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("liqo: no role files under %s/files", chart)
	}
	var out []client.Object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var rules struct {
			Rules []rbacv1.PolicyRule `json:"rules"`
		}
		if err := yaml.Unmarshal(data, &rules); err != nil {
			return nil, fmt.Errorf("liqo: %s: %w", f, err)
		}
		base := filepath.Base(f)
		cluster := strings.HasSuffix(base, "-ClusterRole.yaml")
		name := strings.TrimSuffix(strings.TrimSuffix(base, "-ClusterRole.yaml"), "-Role.yaml")
		app := strings.TrimPrefix(name, "liqo-")
		if strings.HasPrefix(app, "peering-user") {
			app = "peering-user"
		}
		meta := metav1.ObjectMeta{Name: name, Labels: map[string]string{appNameLabel: app}}
		if cluster {
			out = append(out, &rbacv1.ClusterRole{ObjectMeta: meta, Rules: rules.Rules})
			continue
		}
		meta.Namespace = LiqoNamespace
		out = append(out, &rbacv1.Role{ObjectMeta: meta, Rules: rules.Rules})
	}
	return out, nil
}

// renderLiqoWebhook renders one of the chart's webhook templates with the few template
// functions it uses and the chart's values, then points every webhook at the local
// webhook process with the sandbox CA.
func renderLiqoWebhook(path string, port int, ca []byte) (*unstructured.Unstructured, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
		"merge": func(dst map[string]any, src map[string]any) map[string]any {
			for k, v := range src {
				if _, ok := dst[k]; !ok {
					dst[k] = v
				}
			}
			return dst
		},
		"include": func(name string, data map[string]any) (string, error) {
			switch name {
			case "liqo.prefixedName":
				return fmt.Sprintf("liqo-%s", data["name"]), nil
			case "liqo.labels":
				return fmt.Sprintf("%s: %q", appNameLabel, data["name"]), nil
			}
			return "", fmt.Errorf("template %q is not supported by the sandbox", name)
		},
		"nindent": func(n int, s string) string {
			pad := strings.Repeat(" ", n)
			return "\n" + pad + strings.ReplaceAll(s, "\n", "\n"+pad)
		},
	}
	tmpl, err := template.New(filepath.Base(path)).Funcs(funcs).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("liqo: parse %s: %w", path, err)
	}
	values := map[string]any{
		"Release": map[string]any{"Namespace": LiqoNamespace, "Name": "liqo", "Service": "Helm"},
		"Values":  map[string]any{"webhook": map[string]any{"port": port, "failurePolicy": "Fail"}},
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, values); err != nil {
		return nil, fmt.Errorf("liqo: render %s: %w", path, err)
	}
	u := &unstructured.Unstructured{}
	if err := utilyaml.NewYAMLOrJSONDecoder(&buf, 4096).Decode(&u.Object); err != nil {
		return nil, fmt.Errorf("liqo: decode rendered %s: %w", path, err)
	}
	if err := PointWebhooksAt(u, port, ca); err != nil {
		return nil, err
	}
	return u, nil
}
