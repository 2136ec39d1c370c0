package xrkube

import (
	"fmt"
	"sort"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// RESTConfigFromSecretKubeconfig turns a kubeconfig read from a Secret (Cluster API's
// <cluster>-kubeconfig) into a REST config, refusing what would make the reader act on
// its own machine: an exec credential plugin or an auth-provider (either runs or loads
// code with the reader's rights), and credentials or CAs given as file paths (the reader
// would send its own files). Whoever can write the Secret must not be able to run a
// command on the operator's machine. The kubeconfig stays in memory; errors name the
// user or cluster entry, never a credential. what names the Secret in errors.
func RESTConfigFromSecretKubeconfig(data []byte, what string) (*rest.Config, error) {
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid kubeconfig", what)
	}
	if err := refuseLocalEffects(cfg, what); err != nil {
		return nil, err
	}
	rc, err := clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("%s is not a usable kubeconfig (it needs a current context with a server and inline credentials)", what)
	}
	return rc, nil
}

func refuseLocalEffects(cfg *clientcmdapi.Config, what string) error {
	const fix = "a kubeconfig read from a Secret must carry its credentials inline (token or client certificate data)"
	for _, name := range sortedKeys(cfg.AuthInfos) {
		a := cfg.AuthInfos[name]
		switch {
		case a.Exec != nil:
			return fmt.Errorf("%s: user %q has an exec credential plugin, which kubectl xr and xr-capi-peerer never run; %s", what, name, fix)
		case a.AuthProvider != nil:
			return fmt.Errorf("%s: user %q has an auth-provider, which kubectl xr and xr-capi-peerer never load; %s", what, name, fix)
		case a.TokenFile != "" || a.ClientCertificate != "" || a.ClientKey != "":
			return fmt.Errorf("%s: user %q names credential files, which kubectl xr and xr-capi-peerer never read from a Secret's kubeconfig; %s", what, name, fix)
		}
	}
	for _, name := range sortedKeys(cfg.Clusters) {
		if cfg.Clusters[name].CertificateAuthority != "" {
			return fmt.Errorf("%s: cluster %q names a CA file, which kubectl xr and xr-capi-peerer never read from a Secret's kubeconfig; use certificate-authority-data", what, name)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
