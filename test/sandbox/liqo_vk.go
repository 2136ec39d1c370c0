package sandbox

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// vkPollInterval is how often the harness looks for virtual-kubelet Deployments.
const vkPollInterval = 250 * time.Millisecond

// superviseVirtualKubelets does for Liqo's virtual-kubelet Deployments what the
// deployment controller and a kubelet would: when liqo-controller-manager creates
// Deployment liqo-tenant-<provider>/vk-<provider>, it starts Liqo's virtual-kubelet with
// that Deployment's arguments and records it as a Pod (the Deployment's pod labels, a
// scheduling gate so no scheduler places it, and a finalizer). When the Deployment goes
// (unpeer), it stops the process and only then releases the Pod: Liqo deletes the
// virtual Node once no virtual-kubelet Pod is left, and a virtual kubelet still running
// then would recreate the Node.
func (c *Cluster) superviseVirtualKubelets(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(vkPollInterval):
		}
		var deps appsv1.DeploymentList
		if err := c.Client.List(ctx, &deps); err != nil {
			continue
		}
		wanted := map[string]*appsv1.Deployment{}
		for i := range deps.Items {
			d := &deps.Items[i]
			if strings.HasPrefix(d.Namespace, "liqo-tenant-") && strings.HasPrefix(d.Name, "vk-") && d.DeletionTimestamp == nil {
				wanted[types.NamespacedName{Namespace: d.Namespace, Name: d.Name}.String()] = d
			}
		}
		c.reconcileVirtualKubelets(ctx, wanted)
	}
}

// vkFinalizer holds a virtual-kubelet Pod until the harness has stopped its process.
const vkFinalizer = "sandbox.kubexr.io/virtual-kubelet-process"

func (c *Cluster) reconcileVirtualKubelets(ctx context.Context, wanted map[string]*appsv1.Deployment) {
	l := c.liqo
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, vk := range l.vks {
		exited, _ := vk.proc.exited()
		_, ok := wanted[key]
		if ok && !exited {
			continue
		}
		vk.proc.stop(stopGrace)
		if !ok && c.releaseVirtualKubeletPod(ctx, vk.pod) != nil {
			continue // retried at the next poll; the process is already stopped
		}
		delete(l.vks, key)
	}
	for key, d := range wanted {
		if _, running := l.vks[key]; running {
			continue
		}
		vk, err := c.startVirtualKubelet(ctx, d)
		if err != nil {
			continue // retried at the next poll
		}
		l.vks[key] = vk
	}
}

// virtualKubelet is one running virtual-kubelet process and the Pod that stands for it.
type virtualKubelet struct {
	proc *process
	pod  types.NamespacedName
}

// ensureVirtualKubeletPod records the process as a Pod of the Deployment, as Liqo looks
// for the virtual kubelet's pods by their labels.
func (c *Cluster) ensureVirtualKubeletPod(ctx context.Context, d *appsv1.Deployment) (types.NamespacedName, error) {
	key := types.NamespacedName{Namespace: d.Namespace, Name: d.Name + "-process"}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: key.Name, Namespace: key.Namespace,
			Labels:          d.Spec.Template.Labels,
			Finalizers:      []string{vkFinalizer},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))},
		},
		Spec: *d.Spec.Template.Spec.DeepCopy(),
	}
	// Never scheduled: the harness runs it as a local process.
	pod.Spec.SchedulingGates = append(pod.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: vkFinalizer})
	if err := c.Client.Create(ctx, pod); err != nil && !apierrors.IsAlreadyExists(err) {
		return key, fmt.Errorf("record virtual-kubelet pod %s: %w", key, err)
	}
	return key, nil
}

// releaseVirtualKubeletPod lets the Pod of a stopped process go.
func (c *Cluster) releaseVirtualKubeletPod(ctx context.Context, key types.NamespacedName) error {
	pod := &corev1.Pod{}
	if err := c.Client.Get(ctx, key, pod); err != nil {
		return client.IgnoreNotFound(err)
	}
	if i := slices.Index(pod.Finalizers, vkFinalizer); i >= 0 {
		patch := client.MergeFrom(pod.DeepCopy())
		pod.Finalizers = slices.Delete(pod.Finalizers, i, i+1)
		if err := c.Client.Patch(ctx, pod, patch); err != nil {
			return client.IgnoreNotFound(err)
		}
	}
	return client.IgnoreNotFound(c.Client.Delete(ctx, pod))
}

func (c *Cluster) startVirtualKubelet(ctx context.Context, d *appsv1.Deployment) (*virtualKubelet, error) {
	if len(d.Spec.Template.Spec.Containers) == 0 {
		return nil, fmt.Errorf("deployment %s/%s has no container", d.Namespace, d.Name)
	}
	podKey, err := c.ensureVirtualKubeletPod(ctx, d)
	if err != nil {
		return nil, err
	}
	ctr := d.Spec.Template.Spec.Containers[0]
	env := []string{"POD_IP=127.0.0.1", "POD_NAME=" + d.Name, "POD_NAMESPACE=" + d.Namespace}
	vars := map[string]string{"POD_IP": "127.0.0.1", "POD_NAME": d.Name, "POD_NAMESPACE": d.Namespace}
	for _, e := range ctr.Env {
		if e.ValueFrom == nil {
			env = append(env, e.Name+"="+e.Value)
			vars[e.Name] = e.Value
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := make([]string, 0, len(ctr.Args)+3)
	for _, a := range ctr.Args {
		for k, v := range vars {
			a = strings.ReplaceAll(a, "$("+k+")", v)
		}
		args = append(args, a)
	}
	args = append(args, "--home-kubeconfig="+c.KubeconfigPath, "--certificate-type=self-signed",
		"--listen-port="+strconv.Itoa(port))
	p, err := startProcess("virtual-kubelet-"+strings.TrimPrefix(d.Name, "vk-"),
		c.liqo.bins+"/virtual-kubelet", args, env, c.Dir+"/logs")
	if err != nil {
		return nil, err
	}
	return &virtualKubelet{proc: p, pod: podKey}, nil
}

// VirtualKubelets returns the Deployments (namespace/name) whose virtual kubelet runs.
func (c *Cluster) VirtualKubelets() []string {
	if c.liqo == nil {
		return nil
	}
	c.liqo.mu.Lock()
	defer c.liqo.mu.Unlock()
	var out []string
	for key, vk := range c.liqo.vks {
		if exited, _ := vk.proc.exited(); !exited {
			out = append(out, key)
		}
	}
	return out
}

// waitTCP waits until something accepts connections on 127.0.0.1:port.
func waitTCP(ctx context.Context, what string, port int) error {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return poll(ctx, 100*time.Millisecond, 60*time.Second, what+" listening on "+addr, func(context.Context) (bool, error) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err
		}
		conn.Close()
		return true, nil
	})
}
