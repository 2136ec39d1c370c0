package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ClusterOptions says which components a local cluster runs.
type ClusterOptions struct {
	// Name identifies the cluster; it names its folder, kubeconfig context and, for Liqo,
	// its cluster id. Required.
	Name string
	// Scheduler starts the real kube-scheduler.
	Scheduler bool
	// Kwok starts kwok managing every Node (with Liqo: the nodes AddNode creates), so
	// pods bound to them become Running.
	Kwok bool
	// Controllers starts kube-controller-manager with only these controllers (e.g.
	// "deployment", "replicaset", "job"), so workloads create their pods.
	Controllers []string
	// Liqo runs the real Liqo control plane (implies Scheduler, and adds the
	// kube-controller-manager controllers Liqo needs to Controllers; adding "deployment"
	// leaves Liqo's virtual-kubelet pod Pending, harmlessly, as the harness runs it). Peer clusters with
	// Sandbox.Peer. Without it, the stand-in helpers (StandInVirtualNode,
	// StandInConnection) are the lighter way to get Liqo's objects.
	Liqo bool
	// RealNodes starts this many real nodes (realnode.go): a real kubelet each, on its own
	// containerd, runc and CNI bridge, where pods run in real containers. Needs root and
	// make testbins' packages (RealNodeSupport says why not). Implies Scheduler and the
	// controllers pods on real nodes need (realNodeControllers).
	RealNodes int
	// ClusterAPI runs Cluster API's real core manager against this cluster, making it a
	// management cluster (clusterapi.go); a provider such as test/capilocal supplies the
	// infrastructure and control planes.
	ClusterAPI bool
	// Images are OCI archives (e.g. make image's) imported into every real node's
	// containerd: pods use them by the name the archive gives them; nothing is pulled.
	Images []string
}

// Cluster is one running local control plane.
type Cluster struct {
	Name string
	// Dir holds the cluster's PKI, data, logs and kubeconfig.
	Dir string
	// KubeconfigPath is an admin kubeconfig whose current context is Name.
	KubeconfigPath string
	// Config is the admin REST config.
	Config *rest.Config
	// Client is a controller-runtime client with the sandbox scheme (core, Liqo, Cluster API).
	Client client.Client
	// Clientset is a typed client-go clientset.
	Clientset kubernetes.Interface
	PKI       *PKI
	// Server is the API server's URL.
	Server string

	procs []*process
	liqo  *liqoCluster
	real  *realNodes

	// netns allocates the sandbox's gateway namespaces; gateways are the links this
	// cluster consumes through (PeerWithGateways), by provider.
	netns     *netnsAllocator
	gatewayMu sync.Mutex
	gateways  map[string]*GatewayLink
}

// Start timeouts; generous because two cores may be shared with a compiler.
const (
	etcdReadyTimeout      = 60 * time.Second
	apiServerReadyTimeout = 90 * time.Second
	stopGrace             = 15 * time.Second
)

func (s *Sandbox) startCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	if opts.Name == "" {
		return nil, fmt.Errorf("cluster name is required")
	}
	dir := filepath.Join(s.Dir, opts.Name)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return nil, fmt.Errorf("create cluster dir: %w", err)
	}
	c := &Cluster{Name: opts.Name, Dir: dir, netns: &s.netns}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()

	pki, err := NewPKI(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, err
	}
	c.PKI = pki
	if opts.RealNodes > 0 {
		if err := c.prepareRealNodes(opts.RealNodes); err != nil {
			return nil, fmt.Errorf("cluster %s: real nodes: %w", c.Name, err)
		}
		opts.Scheduler = true
		opts.Controllers = append(slices.Clone(opts.Controllers), realNodeControllers...)
	}
	if err := c.startEtcdAndAPIServer(ctx, s.assets); err != nil {
		return nil, err
	}
	if err := c.writeKubeconfig(); err != nil {
		return nil, err
	}
	if err := c.buildClients(); err != nil {
		return nil, err
	}
	if err := installCRDs(c.Config, s.crdDirs); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	if opts.ClusterAPI {
		if err := c.startClusterAPI(ctx); err != nil {
			return nil, fmt.Errorf("cluster %s: start Cluster API: %w", c.Name, err)
		}
	}
	if opts.Liqo {
		if err := c.startLiqo(ctx, s, opts.Controllers); err != nil {
			return nil, fmt.Errorf("cluster %s: start Liqo: %w", c.Name, err)
		}
		opts.Scheduler = true
	}
	if opts.Scheduler {
		if err := c.startScheduler(s.assets); err != nil {
			return nil, err
		}
	}
	if opts.Kwok {
		if err := c.startKwok(s.assets, opts.Liqo); err != nil {
			return nil, err
		}
	}
	if len(opts.Controllers) > 0 && !opts.Liqo {
		if err := c.startControllerManager(s.assets, opts.Controllers); err != nil {
			return nil, err
		}
	}
	if opts.RealNodes > 0 {
		if err := c.startRealNodes(ctx, s.assets, opts.RealNodes, opts.Images); err != nil {
			return nil, fmt.Errorf("cluster %s: real nodes: %w", c.Name, err)
		}
	}
	ok = true
	return c, nil
}

func (c *Cluster) startEtcdAndAPIServer(ctx context.Context, assets string) error {
	clientPort, err := freePort()
	if err != nil {
		return err
	}
	peerPort, err := freePort()
	if err != nil {
		return err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	etcd, err := c.start("etcd", filepath.Join(assets, "etcd"), []string{
		"--name=default",
		"--data-dir=" + filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		"--unsafe-no-fsync=true",
	}, nil)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, etcd, etcdURL+"/health", nil, etcdReadyTimeout); err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}

	port, err := freePort()
	if err != nil {
		return err
	}
	c.Server = "https://127.0.0.1:" + strconv.Itoa(port)
	p := c.PKI
	flags := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(c.Dir, "apiserver-certs"),
		"--tls-cert-file=" + p.ServingCert, "--tls-private-key-file=" + p.ServingKey,
		"--client-ca-file=" + p.CACert,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + p.SAPublic,
		"--service-account-signing-key-file=" + p.SAPrivate,
		// An allocation range only: no traffic may go to its addresses (they would leave
		// the machine by its default route), so the API server calls a Service (a webhook
		// configured by Service, e.g. by kubectl xr install) at its EndpointSlices'
		// addresses instead, and a cluster of kwok nodes has none: such a call fails at once.
		"--service-cluster-ip-range=10.0.0.0/24",
		"--enable-aggregator-routing=true",
		"--authorization-mode=RBAC",
		// 127.0.0.1 is refused as an endpoint by the default reconciler.
		"--endpoint-reconciler-type=none",
		// No token controller runs, and kwok reports readiness itself.
		"--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
		"--allow-privileged=true",
	}
	if c.real != nil {
		flags = c.real.apiServerFlags(flags, p)
	}
	apiserver, err := c.start("kube-apiserver", filepath.Join(assets, "kube-apiserver"), flags, nil)
	if err != nil {
		return err
	}
	tlsFiles := &tlsClientFiles{ca: p.CACert, cert: p.AdminCert, key: p.AdminKey}
	if err := waitHTTP(ctx, apiserver, c.Server+"/readyz", tlsFiles, apiServerReadyTimeout); err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	return nil
}

func (c *Cluster) start(name, binary string, args, env []string) (*process, error) {
	p, err := startProcess(name, binary, args, env, filepath.Join(c.Dir, "logs"))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// Kubeconfig returns the admin kubeconfig with embedded credentials, for callers that
// must keep it in memory (e.g. a Cluster API kubeconfig Secret).
func (c *Cluster) Kubeconfig() (*clientcmdapi.Config, error) {
	ca, err := os.ReadFile(c.PKI.CACert)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	cert, err := os.ReadFile(c.PKI.AdminCert)
	if err != nil {
		return nil, fmt.Errorf("read admin cert: %w", err)
	}
	key, err := os.ReadFile(c.PKI.AdminKey)
	if err != nil {
		return nil, fmt.Errorf("read admin key: %w", err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: ca}
	cfg.AuthInfos[c.Name+"-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name + "-admin", Namespace: "default"}
	cfg.CurrentContext = c.Name
	return cfg, nil
}

func (c *Cluster) writeKubeconfig() error {
	cfg, err := c.Kubeconfig()
	if err != nil {
		return err
	}
	c.KubeconfigPath = filepath.Join(c.Dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, c.KubeconfigPath); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

func (c *Cluster) buildClients() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath)
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	c.Config = cfg
	c.Client, err = client.New(cfg, client.Options{Scheme: NewScheme()})
	if err != nil {
		return fmt.Errorf("build client: %w", err)
	}
	c.Clientset, err = kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("build clientset: %w", err)
	}
	return nil
}

func (c *Cluster) startScheduler(assets string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	_, err = c.start("kube-scheduler", filepath.Join(assets, "kube-scheduler"), []string{
		"--kubeconfig=" + c.KubeconfigPath,
		"--authentication-kubeconfig=" + c.KubeconfigPath,
		"--authorization-kubeconfig=" + c.KubeconfigPath,
		"--leader-elect=false",
		"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(c.Dir, "scheduler-certs"),
	}, nil)
	return err
}

func (c *Cluster) startControllerManager(assets string, controllers []string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	_, err = c.start("kube-controller-manager", filepath.Join(assets, "kube-controller-manager"), []string{
		"--kubeconfig=" + c.KubeconfigPath,
		"--authentication-kubeconfig=" + c.KubeconfigPath,
		"--authorization-kubeconfig=" + c.KubeconfigPath,
		"--controllers=" + strings.Join(controllers, ","),
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(c.Dir, "kcm-certs"),
		// csrsigning signs with the API server's client CA, so identities Liqo approves
		// authenticate.
		"--cluster-signing-cert-file=" + c.PKI.CACert,
		"--cluster-signing-key-file=" + c.PKI.CAKey,
		// What root-ca-certificate-publisher-controller puts in every namespace's
		// kube-root-ca.crt (pods' in-cluster clients trust it).
		"--root-ca-file=" + c.PKI.CACert,
	}, nil)
	return err
}

// startKwok runs kwok for every node, or with Liqo only for the nodes AddNode made
// (label type=kwok): on a consumer it would fight Liqo's virtual kubelet over the
// virtual nodes.
func (c *Cluster) startKwok(assets string, liqo bool) error {
	manage := "--manage-all-nodes=true"
	if liqo {
		manage = "--manage-nodes-with-label-selector=type=kwok"
	}
	args := []string{"--kubeconfig=" + c.KubeconfigPath, manage, "--server-address="}
	stages, err := filepath.Glob(filepath.Join(assets, "kwok-stages", "*.yaml"))
	if err != nil || len(stages) == 0 {
		return fmt.Errorf("no kwok stage files under %s: run make testbins", assets)
	}
	for _, s := range stages {
		args = append(args, "--config="+s)
	}
	_, err = c.start("kwok", filepath.Join(assets, "kwok"), args, nil)
	return err
}

// Stop ends the cluster's processes, newest first, so the API server stops before etcd.
func (c *Cluster) Stop() {
	c.stopRealNodes() // first: its pods are deleted through the API server
	c.closeGateways()
	c.stopLiqo()
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(stopGrace)
	}
	c.procs = nil
}
