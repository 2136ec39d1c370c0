// Package realnodes_test deploys xr-webhook as a user would — `kubectl xr install --image`
// with the image `make image` builds — on a consumer whose nodes are real kubelets with
// containerd and runc, next to Liqo's real control plane, and proves it serves: its pods
// run from that image, cert-controller issues their certificate in-cluster, the API
// server calls them through their Service, and a hinted workload is placed on a real
// node and on a virtual node.
package realnodes_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/plugin"
	"github.com/kubexr/kubectl-xr/test/sandbox"
)

const (
	imageVersion = "v0.0.0-realnode"
	image        = "ghcr.io/kubexr/xr-webhook:" + imageVersion
	waitFor      = 3 * time.Minute
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// buildImage runs make image's program for this machine's platform.
func buildImage(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./hack/image", "-version", imageVersion, "-revision", "test", "-created", "0",
		"-platforms", "linux/"+runtime.GOARCH, "-out", out)
	cmd.Dir = repoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./hack/image: %v\n%s", err, b)
	}
	return filepath.Join(out, "xr-webhook_"+imageVersion+".oci.tar")
}

// assertPeererLeads: xr-capi-peerer runs as a Pod of the image, as its ServiceAccount, on
// a real node, and holds its leader lease (it started its controller with that
// ServiceAccount's rights).
func assertPeererLeads(t *testing.T, consumer *sandbox.Cluster) {
	t.Helper()
	var pods corev1.PodList
	if err := consumer.Client.List(context.Background(), &pods, client.InNamespace("kubexr-system"),
		client.MatchingLabels{"app.kubernetes.io/name": "xr-capi-peerer"}); err != nil {
		t.Fatal(err)
	}
	pods.Items = slices.DeleteFunc(pods.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil })
	if len(pods.Items) != 1 || pods.Items[0].Spec.ServiceAccountName != "xr-capi-peerer" ||
		pods.Items[0].Spec.Containers[0].Image != image || !slices.Contains(consumer.RealNodeNames(), pods.Items[0].Spec.NodeName) {
		t.Fatalf("xr-capi-peerer pods: %d, want one of %s as xr-capi-peerer on a real node", len(pods.Items), image)
	}
	sandbox.Eventually(t, "xr-capi-peerer's leader lease held by its pod", waitFor, func() (bool, string) {
		lease := &coordinationv1.Lease{}
		if err := consumer.Client.Get(context.Background(), client.ObjectKey{Namespace: "kubexr-system", Name: "xr-capi-peerer.kubexr.io"}, lease); err != nil {
			return false, err.Error()
		}
		holder := ptr.Deref(lease.Spec.HolderIdentity, "")
		return strings.HasPrefix(holder, pods.Items[0].Name+"_"), "held by " + holder
	})
}

func xr(t *testing.T, kubeconfig string, args ...string) string {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	if err := plugin.Execute(streams, append([]string{"--kubeconfig", kubeconfig}, args...)); err != nil {
		t.Fatalf("kubectl xr %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out.String() + errOut.String()
}

func TestInstallOnRealNodesServesAndPlaces(t *testing.T) {
	if err := sandbox.RealNodeSupport(); err != nil {
		t.Skipf("real nodes cannot run here: %v", err)
	}
	ctx := context.Background()
	archive := buildImage(t)
	sb := sandbox.NewForTest(t)
	clusters, err := sb.StartClusters(ctx,
		sandbox.ClusterOptions{Name: "consumer", Liqo: true, RealNodes: 2, Images: []string{archive}, ClusterAPI: true},
		sandbox.ClusterOptions{Name: "cloud-geneva", Liqo: true, Kwok: true})
	if err != nil {
		t.Fatal(err)
	}
	consumer, geneva := clusters[0], clusters[1]
	if _, err := geneva.AddNode(ctx, "geneva-node", nil); err != nil {
		t.Fatal(err)
	}
	kc := consumer.KubeconfigPath
	xr(t, kc, "peer", "add", "--remote-kubeconfig", geneva.KubeconfigPath, "--networking-disabled")
	if _, err := consumer.WaitNodeReady(ctx, geneva.Name); err != nil {
		t.Fatal(err)
	}

	// An image no node has: install gives up, naming the pods' waiting reason, and
	// leaves no webhook configuration that would hold opted-in namespaces' pods.
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	err = plugin.Execute(streams, []string{"--kubeconfig", kc, "install", "--image", "ghcr.io/kubexr/xr-webhook:v0.0.0-missing", "--timeout", "20s"})
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if last := lines[len(lines)-1]; err == nil || !strings.HasPrefix(last, "error: xr-webhook not available after 20s: pod xr-webhook-") ||
		!(strings.Contains(last, "ErrImagePull") || strings.Contains(last, "ImagePullBackOff")) ||
		!strings.HasSuffix(last, "no webhook configuration is applied, so nothing waits for it") {
		t.Errorf("install with a missing image: %v\n%s", err, errOut)
	}
	for _, cfg := range []client.Object{&admissionregistrationv1.MutatingWebhookConfiguration{}, &admissionregistrationv1.ValidatingWebhookConfiguration{}} {
		if err := consumer.Client.Get(ctx, client.ObjectKey{Name: "xr-webhook"}, cfg); !apierrors.IsNotFound(err) {
			t.Errorf("%T left after a failed install (%v)", cfg, err)
		}
	}

	t.Cleanup(func() {
		if t.Failed() {
			dumpWebhookLogs(t, consumer)
		}
	})

	// The image make image built: install (over the failed one) succeeds, with
	// xr-capi-peerer (the consumer is Cluster API's management cluster too).
	start := time.Now()
	out := xr(t, kc, "install", "--capi", "--image", image, "--timeout", "3m")
	t.Logf("kubectl xr install --capi --image %s: %s", image, time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "xr-webhook is available") || !strings.Contains(out, "xr-capi-peerer is available") {
		t.Fatalf("install did not report xr-webhook and xr-capi-peerer available:\n%s", out)
	}
	assertPeererLeads(t, consumer)
	realNodes := map[string]bool{}
	for _, n := range consumer.RealNodeNames() {
		realNodes[n] = true
	}
	// Two pods of xr-webhook, each on its own real node, from the image make image built.
	var pods corev1.PodList
	if err := consumer.Client.List(ctx, &pods, client.InNamespace("kubexr-system"), client.MatchingLabels{"app.kubernetes.io/name": "xr-webhook"}); err != nil {
		t.Fatal(err)
	}
	onNodes := map[string]bool{}
	pods.Items = slices.DeleteFunc(pods.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil }) // the failed install's
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || !realNodes[p.Spec.NodeName] || len(p.Status.ContainerStatuses) != 1 ||
			p.Status.ContainerStatuses[0].Image != image || !strings.HasPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://") {
			t.Errorf("xr-webhook pod %s: %s on %q, containers %+v; want Running in a containerd container from %s on a real node",
				p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.ContainerStatuses, image)
		}
		onNodes[p.Spec.NodeName] = true
	}
	if len(pods.Items) != 2 || len(onNodes) != 2 {
		t.Fatalf("%d xr-webhook pods on nodes %v, want 2 on 2 real nodes", len(pods.Items), onNodes)
	}
	// cert-controller, inside those pods, issued the serving certificate and put its CA
	// into both webhook configurations.
	secret := &corev1.Secret{}
	if err := consumer.Client.Get(ctx, client.ObjectKey{Namespace: "kubexr-system", Name: "xr-webhook-tls"}, secret); err != nil {
		t.Fatal(err)
	}
	ca := secret.Data["ca.crt"]
	if len(ca) == 0 || len(secret.Data["tls.crt"]) == 0 {
		t.Fatalf("xr-webhook-tls holds no certificate: keys %v", keys(secret.Data))
	}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	sandbox.Eventually(t, "both webhook configurations carry the CA", waitFor, func() (bool, string) {
		if consumer.Client.Get(ctx, client.ObjectKey{Name: "xr-webhook"}, mwc) != nil || consumer.Client.Get(ctx, client.ObjectKey{Name: "xr-webhook"}, vwc) != nil {
			return false, "configurations not found"
		}
		for _, w := range mwc.Webhooks {
			if !bytes.Equal(w.ClientConfig.CABundle, ca) {
				return false, "mutating " + w.Name + " lacks the CA"
			}
		}
		for _, w := range vwc.Webhooks {
			if !bytes.Equal(w.ClientConfig.CABundle, ca) {
				return false, "validating " + w.Name + " lacks the CA"
			}
		}
		return true, ""
	})

	// A workload: the namespace offloaded with class low, cloud-geneva at 14 ms (the
	// stand-in Connection: peering without networking), one Deployment kept local and
	// one sent remote. Only xr-webhook's pods can place them: no other instance runs.
	if err := consumer.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "xr"}}); err != nil {
		t.Fatal(err)
	}
	// Install said available only after the API server's admissions reached xr-webhook,
	// so the user's next command, offload (whose opt-in xr-webhook validates), passes at
	// once. (Before install checked that, the first call exceeded its 2 s timeout in 3 of
	// 10 runs here.)
	xr(t, kc, "offload", "xr", "--class", "low")
	if err := consumer.StandInConnection(ctx, geneva.Name, networkingv1beta1.Connected, 14*time.Millisecond, time.Now()); err != nil {
		t.Fatal(err)
	}
	sandbox.Eventually(t, "xr-webhook's observer (in a pod) labels cloud-geneva low", waitFor, func() (bool, string) {
		n := &corev1.Node{}
		if err := consumer.Client.Get(ctx, client.ObjectKey{Name: geneva.Name}, n); err != nil {
			return false, err.Error()
		}
		return n.Labels["kubexr.io/latency-class"] == "low", fmt.Sprint(n.Labels)
	})
	for name, placement := range map[string]string{"render": "local", "stream": "remote"} {
		labels := map[string]string{"app": name}
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "xr", Annotations: map[string]string{"kubexr.io/placement": placement}},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: sandbox.PauseImage}}}}},
		}
		if err := consumer.Client.Create(ctx, dep); err != nil {
			t.Fatal(err)
		}
	}
	placed := func(app string, where func(node string) bool) {
		sandbox.Eventually(t, app+" placed by xr-webhook and Running", waitFor, func() (bool, string) {
			var pods corev1.PodList
			if err := consumer.Client.List(ctx, &pods, client.InNamespace("xr"), client.MatchingLabels{"app": app}); err != nil || len(pods.Items) != 1 {
				return false, fmt.Sprintf("%d pods (%v)", len(pods.Items), err)
			}
			p := pods.Items[0]
			return p.Annotations["kubexr.io/decision"] != "" && p.Status.Phase == corev1.PodRunning && where(p.Spec.NodeName),
				fmt.Sprintf("%s on %q, decision %q", p.Status.Phase, p.Spec.NodeName, p.Annotations["kubexr.io/decision"])
		})
	}
	placed("render", func(node string) bool { return realNodes[node] })
	placed("stream", func(node string) bool { return node == geneva.Name })

	// doctor: everything healthy. The one warning allowed is the test bed's: Liqo runs
	// as processes here, so there is no Deployment to read Liqo's version from.
	doctor := xr(t, kc, "doctor")
	for _, line := range strings.Split(strings.TrimSpace(doctor), "\n") {
		if !strings.HasPrefix(line, "[ok]") && !(strings.HasPrefix(line, "[warn]") && strings.Contains(line, "Liqo: installed, cluster id consumer; version unknown")) {
			t.Errorf("doctor reports %q:\n%s", line, doctor)
		}
	}
	for _, want := range []string{"xr-webhook: 2/2 replicas available", "xr-webhook: webhook configurations carry a CA bundle", "peer cloud-geneva: connected, RTT 14ms, class low"} {
		if !strings.Contains(doctor, want) {
			t.Errorf("doctor lacks %q:\n%s", want, doctor)
		}
	}

	rotateInCluster(t, consumer, ca)

	// With xr-webhook down (scaled to zero), offload stops before Liqo offloads
	// anything: the namespace is left as it was, not offloaded without placement.
	scale := []byte(`{"spec":{"replicas":0}}`)
	if _, err := consumer.Clientset.AppsV1().Deployments("kubexr-system").Patch(ctx, "xr-webhook", "application/merge-patch+json", scale, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	sandbox.Eventually(t, "xr-webhook's pods gone", waitFor, func() (bool, string) {
		var pods corev1.PodList
		err := consumer.Client.List(ctx, &pods, client.InNamespace("kubexr-system"), client.MatchingLabels{"app.kubernetes.io/name": "xr-webhook"})
		return err == nil && len(pods.Items) == 0, fmt.Sprintf("%d pods", len(pods.Items))
	})
	if err := consumer.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "late"}}); err != nil {
		t.Fatal(err)
	}
	streams, _, _, errOut = genericiooptions.NewTestIOStreams()
	err = plugin.Execute(streams, []string{"--kubeconfig", kc, "offload", "late", "--class", "low"})
	if err == nil || !strings.Contains(errOut.String(), "enable xr-webhook in namespace late (checked before offloading; nothing changed)") {
		t.Errorf("offload with xr-webhook down: %v\n%s", err, errOut)
	}
	nsoff := &offloadingv1beta1.NamespaceOffloading{}
	if err := consumer.Client.Get(ctx, client.ObjectKey{Namespace: "late", Name: "offloading"}, nsoff); !apierrors.IsNotFound(err) {
		t.Errorf("offload with xr-webhook down left a NamespaceOffloading (%v)", err)
	}

	xr(t, kc, "offload", "remove", "xr")
	// --include-crds: the LatencyClasses too, so that Helm can own them next.
	xr(t, kc, "uninstall", "--include-crds")
	sandbox.Eventually(t, "uninstall removed every object", waitFor, func() (bool, string) {
		for _, obj := range []client.Object{
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubexr-system"}},
			&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "xr-webhook"}},
			&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "xr-webhook"}},
			&apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "latencyclasses.kubexr.io"}},
		} {
			if err := consumer.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
				return false, fmt.Sprintf("%T %s still there (%v)", obj, obj.GetName(), err)
			}
		}
		return true, ""
	})

	helmInstallServesAndUninstalls(t, consumer)
}

// helmInstallServesAndUninstalls: the Helm chart, installed through Helm's SDK as
// `helm install xr-webhook manifests/chart -n kubexr-system --create-namespace --wait`
// would, runs the same pods; the API server calls them (an offload's opt-in passes their
// validation, a hinted pod gets their decision); `helm uninstall` removes them.
func helmInstallServesAndUninstalls(t *testing.T, consumer *sandbox.Cluster) {
	ctx := context.Background()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &consumer.KubeconfigPath, ptr.To("kubexr-system")
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, "kubexr-system", "secret", t.Logf); err != nil {
		t.Fatal(err)
	}
	chrt, err := loader.Load(filepath.Join(repoRoot(), "manifests", "chart"))
	if err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.CreateNamespace = "xr-webhook", "kubexr-system", true
	install.Wait, install.Timeout = true, waitFor
	start := time.Now()
	if _, err := install.Run(chrt, map[string]any{"image": map[string]any{"tag": imageVersion}}); err != nil {
		t.Fatalf("helm install: %v", err)
	}
	t.Logf("helm install --wait: %s", time.Since(start).Round(time.Millisecond))
	var pods corev1.PodList
	if err := consumer.Client.List(ctx, &pods, client.InNamespace("kubexr-system"), client.MatchingLabels{"app.kubernetes.io/name": "xr-webhook"}); err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Image == image {
			running++
		}
	}
	if running != 2 {
		t.Errorf("%d xr-webhook pods Running from %s after helm install, want 2", running, image)
	}
	kc := consumer.KubeconfigPath
	if err := consumer.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "xr-helm"}}); err != nil {
		t.Fatal(err)
	}
	// cert-controller puts its CA into the configurations Helm applied; until then the
	// opt-in cannot be validated.
	sandbox.Eventually(t, "offload through the Helm-installed xr-webhook", waitFor, func() (bool, string) {
		streams, _, _, errOut := genericiooptions.NewTestIOStreams()
		err := plugin.Execute(streams, []string{"--kubeconfig", kc, "offload", "xr-helm", "--class", "low"})
		return err == nil, errOut.String()
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hinted", Namespace: "xr-helm", Annotations: map[string]string{"kubexr.io/placement": "local"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: sandbox.PauseImage}}}}
	if err := consumer.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if pod.Annotations["kubexr.io/decision"] == "" {
		t.Errorf("the Helm-installed xr-webhook did not place the pod: %v", pod.Annotations)
	}
	xr(t, kc, "offload", "remove", "xr-helm")
	if _, err := action.NewUninstall(cfg).Run("xr-webhook"); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	sandbox.Eventually(t, "helm uninstall removed xr-webhook", waitFor, func() (bool, string) {
		for _, obj := range []client.Object{
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "kubexr-system", Name: "xr-webhook"}},
			&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "xr-webhook"}},
			&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "xr-webhook"}},
		} {
			if err := consumer.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
				return false, fmt.Sprintf("%T %s still there (%v)", obj, obj.GetName(), err)
			}
		}
		return true, ""
	})
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// dumpWebhookLogs logs xr-webhook's pods' logs, read through the API server from the
// real kubelets.
func dumpWebhookLogs(t *testing.T, c *sandbox.Cluster) {
	ctx := context.Background()
	pods, err := c.Clientset.CoreV1().Pods("kubexr-system").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=xr-webhook"})
	if err != nil {
		t.Logf("list xr-webhook pods: %v", err)
		return
	}
	for _, p := range pods.Items {
		logs, err := c.Clientset.CoreV1().Pods("kubexr-system").GetLogs(p.Name, &corev1.PodLogOptions{TailLines: ptr.To[int64](40)}).DoRaw(ctx)
		t.Logf("==== pod %s on %s (%s, err %v):\n%s", p.Name, p.Spec.NodeName, p.Status.Phase, err, logs)
	}
}

// rotateInCluster: with its Secret emptied (a lost or expired certificate),
// cert-controller in xr-webhook's pods issues a new CA and certificate, injects the new
// CA into both configurations, and the pods serve the new certificate once the kubelet
// refreshes their volume: a hinted pod is placed again.
func rotateInCluster(t *testing.T, c *sandbox.Cluster, oldCA []byte) {
	ctx := context.Background()
	secret := &corev1.Secret{}
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "kubexr-system", Name: "xr-webhook-tls"}, secret); err != nil {
		t.Fatal(err)
	}
	secret.Data = nil
	if err := c.Client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var newCA []byte
	sandbox.Eventually(t, "cert-controller issues a new CA into the Secret and both configurations", waitFor, func() (bool, string) {
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(secret), secret); err != nil {
			return false, err.Error()
		}
		newCA = secret.Data["ca.crt"]
		if len(newCA) == 0 || bytes.Equal(newCA, oldCA) || len(secret.Data["tls.crt"]) == 0 {
			return false, "no new CA yet"
		}
		mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
		vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if c.Client.Get(ctx, client.ObjectKey{Name: "xr-webhook"}, mwc) != nil || c.Client.Get(ctx, client.ObjectKey{Name: "xr-webhook"}, vwc) != nil {
			return false, "configurations not found"
		}
		for _, w := range append(mwc.Webhooks, toMutating(vwc.Webhooks)...) {
			if !bytes.Equal(w.ClientConfig.CABundle, newCA) {
				return false, w.Name + " still has the old CA"
			}
		}
		return true, ""
	})
	n := 0
	sandbox.Eventually(t, "a hinted pod placed by xr-webhook serving the rotated certificate", waitFor, func() (bool, string) {
		n++
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("after-rotation-%d", n), Namespace: "xr",
			Annotations: map[string]string{"kubexr.io/placement": "local"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: sandbox.PauseImage}}}}
		if err := c.Client.Create(ctx, pod); err != nil {
			return false, err.Error()
		}
		return pod.Annotations["kubexr.io/decision"] != "", fmt.Sprint(pod.Annotations)
	})
	t.Logf("certificate rotated in-cluster and served again in %s", time.Since(start).Round(time.Millisecond))
}

// toMutating views validating webhooks' client configs as mutating ones (only the CA
// bundle is compared).
func toMutating(hooks []admissionregistrationv1.ValidatingWebhook) []admissionregistrationv1.MutatingWebhook {
	out := make([]admissionregistrationv1.MutatingWebhook, len(hooks))
	for i, h := range hooks {
		out[i] = admissionregistrationv1.MutatingWebhook{Name: h.Name, ClientConfig: h.ClientConfig}
	}
	return out
}
