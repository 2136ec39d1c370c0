package plugin

import (
	"errors"
	"fmt"
	"os"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // exec, OIDC and cloud auth providers in kubeconfigs
	"sigs.k8s.io/controller-runtime/pkg/client"

	outputv1 "github.com/kubexr/kubectl-xr/api/output/v1alpha1"
	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/internal/peering"
)

// newScheme has the types the plugin reads and writes: peering's (core Kubernetes, Liqo's
// and Cluster API's), CRDs, kubectl-xr's, and the kinds of its output.
func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(peering.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(xrv1.AddToScheme(s))
	utilruntime.Must(outputv1.AddToScheme(s))
	return s
}

// kube is what most commands need from the current context.
type kube struct {
	client    client.Client
	namespace string
	// explicitNamespace: -n was given (or the context names one).
	explicitNamespace bool
}

// errNoKubeconfig: client-go would otherwise try localhost:8080 and fail obscurely.
var errNoKubeconfig = errors.New("no kubeconfig found: set KUBECONFIG, pass --kubeconfig, or create ~/.kube/config")

func newKube(f genericclioptions.RESTClientGetter) (*kube, error) {
	if raw, err := f.ToRawKubeConfigLoader().RawConfig(); err == nil && len(raw.Contexts) == 0 &&
		os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return nil, errNoKubeconfig
	}
	cfg, err := f.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	mapper, err := f.ToRESTMapper()
	if err != nil {
		return nil, fmt.Errorf("discover the API: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: newScheme(), Mapper: mapper})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	ns, explicit, err := f.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	return &kube{client: c, namespace: ns, explicitNamespace: explicit}, nil
}
