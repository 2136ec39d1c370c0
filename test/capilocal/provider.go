package capilocal

import (
	"context"
	"embed"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// The provider's kinds, as Cluster API's Cluster refers to them (spec.infrastructureRef,
// spec.controlPlaneRef: apiGroup, kind, name).
var (
	LocalClusterGVK      = schema.GroupVersionKind{Group: "infrastructure.local.kubexr.io", Version: "v1alpha1", Kind: "LocalCluster"}
	LocalControlPlaneGVK = schema.GroupVersionKind{Group: "controlplane.local.kubexr.io", Version: "v1alpha1", Kind: "LocalControlPlane"}
)

// stopFinalizer keeps a LocalControlPlane until its processes are stopped.
const stopFinalizer = "controlplane.local.kubexr.io/stop"

//go:embed crds/*.yaml
var crdFiles embed.FS

// Provider is the test bed's Cluster API provider, running in the test's process because
// the control planes it starts are the sandbox's.
type Provider struct {
	sb   *sandbox.Sandbox
	mgmt *sandbox.Cluster

	mu sync.Mutex
	// running are the control planes started, by LocalControlPlane; starting are the
	// cluster names being started.
	running  map[types.NamespacedName]*sandbox.Cluster
	starting map[string]bool

	cancel context.CancelFunc
	done   chan error
}

// Start installs the provider's CRDs on the management cluster and runs its controllers
// until Stop. Cluster API's core manager (sandbox.ClusterOptions.ClusterAPI) does the rest.
func Start(ctx context.Context, sb *sandbox.Sandbox, mgmt *sandbox.Cluster) (*Provider, error) {
	crds, err := CRDs()
	if err != nil {
		return nil, err
	}
	if _, err := envtest.InstallCRDs(mgmt.Config, envtest.CRDInstallOptions{CRDs: crds}); err != nil {
		return nil, fmt.Errorf("install the local provider's CRDs: %w", err)
	}
	logFile, err := os.Create(filepath.Join(mgmt.Dir, "logs", "capilocal.log"))
	if err != nil {
		return nil, err
	}
	log := funcr.New(func(prefix, args string) { fmt.Fprintln(logFile, time.Now().Format(time.RFC3339Nano), prefix, args) }, funcr.Options{})
	mgr, err := ctrl.NewManager(mgmt.Config, ctrl.Options{
		Scheme:                 sandbox.NewScheme(),
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several management clusters may run in one test binary.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	p := &Provider{sb: sb, mgmt: mgmt, running: map[types.NamespacedName]*sandbox.Cluster{},
		starting: map[string]bool{}, done: make(chan error, 1)}
	infra := &unstructured.Unstructured{}
	infra.SetGroupVersionKind(LocalClusterGVK)
	if err := ctrl.NewControllerManagedBy(mgr).Named("localcluster").For(infra).
		Complete(&infraReconciler{c: mgr.GetClient()}); err != nil {
		return nil, err
	}
	cp := &unstructured.Unstructured{}
	cp.SetGroupVersionKind(LocalControlPlaneGVK)
	if err := ctrl.NewControllerManagedBy(mgr).Named("localcontrolplane").For(cp).
		// Control planes start in parallel, as a cloud provisions several clusters at once.
		WithOptions(controllerOptions(8)).
		Complete(&controlPlaneReconciler{p: p, c: mgr.GetClient(), log: log}); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() {
		p.done <- mgr.Start(runCtx)
		logFile.Close()
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		p.Stop()
		return nil, fmt.Errorf("the local provider's caches did not sync")
	}
	return p, nil
}

// Stop stops the controllers; the control planes they started stop with the sandbox.
func (p *Provider) Stop() {
	p.cancel()
	<-p.done
}

// Running returns the control plane started for a LocalControlPlane, or nil.
func (p *Provider) Running(namespace, name string) *sandbox.Cluster {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running[types.NamespacedName{Namespace: namespace, Name: name}]
}

// CRDs returns the provider's CustomResourceDefinitions.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	entries, err := crdFiles.ReadDir("crds")
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, e := range entries {
		data, err := crdFiles.ReadFile("crds/" + e.Name())
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, crd)
	}
	return out, nil
}

// infraReconciler provisions LocalClusters: the loopback needs nothing created.
type infraReconciler struct{ c client.Client }

func (r *infraReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(LocalClusterGVK)
	if err := r.c.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if done, _, _ := unstructured.NestedBool(obj.Object, "status", "initialization", "provisioned"); done || obj.GetDeletionTimestamp() != nil {
		return ctrl.Result{}, nil
	}
	patch := client.MergeFrom(obj.DeepCopy())
	_ = unstructured.SetNestedField(obj.Object, true, "status", "initialization", "provisioned")
	setCondition(obj, "Ready", metav1.ConditionTrue, "Provisioned", "the loopback needs nothing created")
	return ctrl.Result{}, r.c.Status().Patch(ctx, obj, patch)
}

// controlPlaneReconciler starts a LocalControlPlane's cluster once a Cluster owns it,
// publishes its kubeconfig and endpoint as the contract says, and stops it on deletion.
type controlPlaneReconciler struct {
	p   *Provider
	c   client.Client
	log logr.Logger
}

func (r *controlPlaneReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(LocalControlPlaneGVK)
	if err := r.c.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	clusterName := ownerCluster(obj)
	if obj.GetDeletionTimestamp() != nil {
		return ctrl.Result{}, r.teardown(ctx, obj, clusterName)
	}
	// The contract: act only once the Cluster owns the control plane (it names the
	// kubeconfig Secret).
	if clusterName == "" {
		return ctrl.Result{}, nil
	}
	if controllerutil.AddFinalizer(obj, stopFinalizer) {
		if err := r.c.Update(ctx, obj); err != nil {
			return ctrl.Result{}, err
		}
	}
	wl, err := r.ensureRunning(ctx, req.NamespacedName, obj, clusterName)
	if err != nil {
		patch := client.MergeFrom(obj.DeepCopy())
		setCondition(obj, "Available", metav1.ConditionFalse, "StartFailed", err.Error())
		if perr := r.c.Status().Patch(ctx, obj, patch); perr != nil {
			r.log.Error(perr, "report start failure", "controlPlane", req.NamespacedName)
		}
		return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	}
	if err := r.writeKubeconfig(ctx, obj, clusterName, wl); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.reportInitialized(ctx, obj, wl)
}

// ensureRunning starts the control plane unless this provider already has.
func (r *controlPlaneReconciler) ensureRunning(ctx context.Context, key types.NamespacedName, obj *unstructured.Unstructured, clusterName string) (*sandbox.Cluster, error) {
	if wl := r.p.Running(key.Namespace, key.Name); wl != nil {
		return wl, nil
	}
	// The sandbox names a cluster's folder and Liqo cluster id after it: one per name, so
	// the name is reserved before the (slow) start, against a same-named Cluster elsewhere.
	r.p.mu.Lock()
	taken := r.p.starting[clusterName] || r.p.sb.Cluster(clusterName) != nil
	if !taken {
		r.p.starting[clusterName] = true
	}
	r.p.mu.Unlock()
	if taken {
		return nil, fmt.Errorf("a local cluster named %s already runs in this sandbox", clusterName)
	}
	defer func() {
		r.p.mu.Lock()
		delete(r.p.starting, clusterName)
		r.p.mu.Unlock()
	}()
	liqo, _, _ := unstructured.NestedBool(obj.Object, "spec", "liqo")
	kwok, _, _ := unstructured.NestedBool(obj.Object, "spec", "kwok")
	started := time.Now()
	wl, err := r.p.sb.StartCluster(ctx, sandbox.ClusterOptions{Name: clusterName, Liqo: liqo, Kwok: kwok})
	if err != nil {
		return nil, err
	}
	r.log.Info("control plane started", "controlPlane", key, "server", wl.Server, "took", time.Since(started).String())
	r.p.mu.Lock()
	r.p.running[key] = wl
	r.p.mu.Unlock()
	return wl, nil
}

// writeKubeconfig writes <cluster>-kubeconfig the way the contract asks of a control plane
// provider: type cluster.x-k8s.io/secret, the cluster-name label, the kubeconfig at "value".
func (r *controlPlaneReconciler) writeKubeconfig(ctx context.Context, obj *unstructured.Unstructured, clusterName string, wl *sandbox.Cluster) error {
	kc, err := wl.Kubeconfig()
	if err != nil {
		return err
	}
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return err
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: obj.GetNamespace(), Name: clusterName + "-kubeconfig"}}
	_, err = controllerutil.CreateOrUpdate(ctx, r.c, s, func() error {
		s.Type = clusterv1.ClusterSecretType
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[clusterv1.ClusterNameLabel] = clusterName
		s.Data = map[string][]byte{"value": data}
		return controllerutil.SetControllerReference(obj, s, r.c.Scheme())
	})
	return err
}

// reportInitialized sets the endpoint (spec) and the contract's status fields.
func (r *controlPlaneReconciler) reportInitialized(ctx context.Context, obj *unstructured.Unstructured, wl *sandbox.Cluster) error {
	u, err := url.Parse(wl.Server)
	if err != nil {
		return err
	}
	port, err := strconv.ParseInt(u.Port(), 10, 64)
	if err != nil {
		return fmt.Errorf("API server URL %s: %w", wl.Server, err)
	}
	host, _, _ := unstructured.NestedString(obj.Object, "spec", "controlPlaneEndpoint", "host")
	if host == "" {
		patch := client.MergeFrom(obj.DeepCopy())
		_ = unstructured.SetNestedField(obj.Object, map[string]any{"host": u.Hostname(), "port": port}, "spec", "controlPlaneEndpoint")
		if err := r.c.Patch(ctx, obj, patch); err != nil {
			return err
		}
	}
	version, err := wl.Clientset.Discovery().ServerVersion()
	if err != nil {
		return err
	}
	patch := client.MergeFrom(obj.DeepCopy())
	for field, v := range map[string]any{"externalManagedControlPlane": true, "version": version.GitVersion,
		"replicas": int64(1), "readyReplicas": int64(1), "availableReplicas": int64(1), "upToDateReplicas": int64(1)} {
		_ = unstructured.SetNestedField(obj.Object, v, "status", field)
	}
	_ = unstructured.SetNestedField(obj.Object, true, "status", "initialization", "controlPlaneInitialized")
	setCondition(obj, "Available", metav1.ConditionTrue, "Started", "etcd and kube-apiserver run at "+wl.Server)
	return r.c.Status().Patch(ctx, obj, patch)
}

// teardown stops the control plane, removes its kubeconfig, then lets the object go.
func (r *controlPlaneReconciler) teardown(ctx context.Context, obj *unstructured.Unstructured, clusterName string) error {
	key := types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}
	if wl := r.p.Running(key.Namespace, key.Name); wl != nil {
		r.p.sb.StopCluster(wl)
		r.p.mu.Lock()
		delete(r.p.running, key)
		r.p.mu.Unlock()
		r.log.Info("control plane stopped", "controlPlane", key)
	}
	if clusterName != "" {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: clusterName + "-kubeconfig"}}
		if err := r.c.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	if controllerutil.RemoveFinalizer(obj, stopFinalizer) {
		return r.c.Update(ctx, obj)
	}
	return nil
}

// ownerCluster is the name of the Cluster API Cluster owning obj, or "".
func ownerCluster(obj *unstructured.Unstructured) string {
	for _, ref := range obj.GetOwnerReferences() {
		if gv, err := schema.ParseGroupVersion(ref.APIVersion); err == nil && gv.Group == clusterv1.GroupVersion.Group && ref.Kind == "Cluster" {
			return ref.Name
		}
	}
	return ""
}

// setCondition sets one metav1.Condition in status.conditions, keeping the transition
// time while the status stays.
func setCondition(obj *unstructured.Unstructured, typ string, status metav1.ConditionStatus, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	now := metav1.Now().UTC().Format(time.RFC3339)
	cond := map[string]any{"type": typ, "status": string(status), "reason": reason, "message": message,
		"lastTransitionTime": now, "observedGeneration": obj.GetGeneration()}
	for i, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != typ {
			continue
		}
		if m["status"] == string(status) {
			cond["lastTransitionTime"] = m["lastTransitionTime"]
		}
		conds[i] = cond
		_ = unstructured.SetNestedSlice(obj.Object, conds, "status", "conditions")
		return
	}
	_ = unstructured.SetNestedSlice(obj.Object, append(conds, cond), "status", "conditions")
}

func controllerOptions(workers int) controller.Options {
	return controller.Options{MaxConcurrentReconciles: workers}
}
