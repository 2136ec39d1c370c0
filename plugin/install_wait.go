package plugin

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
)

// Where install finds what it deployed.
const (
	installNamespace = "kubexr-system"
	webhookName      = "xr-webhook"
	certSecret       = "xr-webhook-tls"
)

// peererName is xr-capi-peerer's Deployment (install --capi).
const peererName = "xr-capi-peerer"

// podsOf selects the pods of the Deployment name (they carry app.kubernetes.io/name).
func podsOf(name string) client.MatchingLabels {
	return client.MatchingLabels{"app.kubernetes.io/name": name}
}

// isWebhookConfiguration: the objects that make the API server call xr-webhook, which
// install applies only once something answers.
func isWebhookConfiguration(obj *unstructured.Unstructured) bool {
	return obj.GroupVersionKind().Group == "admissionregistration.k8s.io" &&
		(obj.GetKind() == "MutatingWebhookConfiguration" || obj.GetKind() == "ValidatingWebhookConfiguration")
}

// splitConfigurations separates the webhook configurations from the rest, keeping order.
func splitConfigurations(objs []*unstructured.Unstructured) (rest, configurations []*unstructured.Unstructured) {
	for _, obj := range objs {
		if isWebhookConfiguration(obj) {
			configurations = append(configurations, obj)
		} else {
			rest = append(rest, obj)
		}
	}
	return rest, configurations
}

// waitAvailable waits until kstatus calls the Deployment name (xr-webhook, xr-capi-peerer)
// Current (every replica updated and available). On timeout it says why, from the pods:
// the reason a container waits (ErrImagePull, CrashLoopBackOff, ...) or why a pod is not
// scheduled.
func waitAvailable(ctx context.Context, c client.Client, name string, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		dep := &unstructured.Unstructured{}
		dep.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
		if err := c.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: name}, dep); err != nil {
			last = err.Error()
			return false, client.IgnoreNotFound(err)
		}
		res, err := status.Compute(dep)
		if err != nil {
			return false, err
		}
		last = res.Message
		return res.Status == status.CurrentStatus, nil
	})
	if err == nil {
		return nil
	}
	why := podTrouble(context.WithoutCancel(ctx), c, name)
	if why == "" {
		why = last
	}
	return fmt.Errorf("%s not available after %s: %s (kubectl -n %s describe deploy/%s)", name, timeout, why, installNamespace, name)
}

// podTrouble says, in one line, what keeps the Deployment name's pods from being ready.
func podTrouble(ctx context.Context, c client.Client, name string) string {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(installNamespace), podsOf(name)); err != nil {
		return ""
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	var troubles []string
	for _, p := range pods.Items {
		if t := onePodTrouble(&p); t != "" {
			troubles = append(troubles, "pod "+p.Name+": "+t)
		}
	}
	return strings.Join(troubles, "; ")
}

func onePodTrouble(p *corev1.Pod) string {
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
			return brief(w.Reason + ": " + w.Message)
		}
		if t := cs.LastTerminationState.Terminated; t != nil && !cs.Ready {
			return brief(fmt.Sprintf("container %s exited %d (%s)", cs.Name, t.ExitCode, t.Reason))
		}
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			return brief("not scheduled: " + cond.Message)
		}
	}
	if p.Status.Phase == corev1.PodRunning {
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status != corev1.ConditionTrue {
				return "running, not ready (kubectl logs -n " + installNamespace + " " + p.Name + ")"
			}
		}
		return ""
	}
	return strings.ToLower(string(p.Status.Phase))
}

// brief folds a pod's message to one line of at most 300 bytes.
func brief(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// servingCA is the CA that signed xr-webhook's serving certificate (the Secret's ca.crt,
// written by cert-controller or cert-manager), nil while there is none.
func servingCA(ctx context.Context, c client.Client) ([]byte, error) {
	secret := &corev1.Secret{}
	err := c.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: certSecret}, secret)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the serving certificate's CA: %w", err)
	}
	return secret.Data["ca.crt"], nil
}

// withCABundle sets every webhook's caBundle: applied without one, the API server could
// not verify xr-webhook until cert-controller noticed the configuration, and a later
// apply would remove the bundle install once owned.
func withCABundle(configurations []*unstructured.Unstructured, ca []byte) error {
	if len(ca) == 0 {
		return nil
	}
	for _, cfg := range configurations {
		hooks, _, _ := unstructured.NestedSlice(cfg.Object, "webhooks")
		for _, h := range hooks {
			// A []byte field is base64 in unstructured JSON.
			if err := unstructured.SetNestedField(h.(map[string]any), base64.StdEncoding.EncodeToString(ca), "clientConfig", "caBundle"); err != nil {
				return err
			}
		}
		if err := unstructured.SetNestedSlice(cfg.Object, hooks, "webhooks"); err != nil {
			return err
		}
	}
	return nil
}

// carryCA reports whether every webhook of the applied configurations has a CA bundle.
func carryCA(ctx context.Context, c client.Client, configurations []*unstructured.Unstructured) (bool, error) {
	for _, cfg := range configurations {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(cfg.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(cfg), live); err != nil {
			return false, err
		}
		hooks, _, _ := unstructured.NestedSlice(live.Object, "webhooks")
		for _, h := range hooks {
			if ca, _, _ := unstructured.NestedString(h.(map[string]any), "clientConfig", "caBundle"); ca == "" {
				return false, nil
			}
		}
	}
	return true, nil
}

// removeConfigurations deletes the webhook configurations (nothing would answer them).
func removeConfigurations(ctx context.Context, c client.Client, configurations []*unstructured.Unstructured) error {
	for _, cfg := range configurations {
		if err := c.Delete(ctx, cfg.DeepCopy()); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// availableReplicas of xr-webhook's Deployment (0 when there is none).
func availableReplicas(ctx context.Context, c client.Client) int32 {
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: webhookName}, dep); err != nil {
		return 0
	}
	return dep.Status.AvailableReplicas
}

// admissionProbePrefix names the namespace install submits as a server dry run to see
// xr-webhook judge it (the API server completes the name; the dry run creates nothing).
const admissionProbePrefix = "kubexr-admission-probe-"

// admissionsInARow: with several replicas the API server picks an endpoint at random per
// call, so one answer proves one path; a few in a row make a stale endpoint unlikely to
// hide.
const admissionsInARow = 3

// waitAdmits returns once the API server has had xr-webhook judge admissionsInARow
// admissions in a row: server dry runs of a namespace carrying a hint, which only
// xr-webhook's validation decides. Ready replicas and a CA in the configurations do not
// yet prove that the API server reaches them through their Service with that CA, and a
// user's next command (kubectl xr offload) must not be the first to find out.
func waitAdmits(ctx context.Context, c client.Client, timeout time.Duration) error {
	var last error
	inARow := 0
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		probe := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: admissionProbePrefix,
			Annotations: map[string]string{policy.AnnotationMove: string(policy.MoveAuto)}}}
		if err := c.Create(ctx, probe, client.DryRunAll); err != nil {
			inARow = 0
			// A call cut short by our own deadline says nothing about the path to
			// xr-webhook; the API server's last answer before it does.
			if last == nil || ctx.Err() == nil {
				last = err
			}
			return false, nil
		}
		inARow++
		return inARow == admissionsInARow, nil
	})
	if err == nil {
		return nil
	}
	if last == nil {
		last = err
	}
	return fmt.Errorf("the API server could not call xr-webhook through its Service within %s: %s", timeout.Round(time.Second), brief(last.Error()))
}
