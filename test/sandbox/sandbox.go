package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Sandbox is a set of named local clusters sharing one folder and one set of binaries.
type Sandbox struct {
	// Dir holds one folder per cluster.
	Dir string

	assets  string
	crdDirs []string

	mu       sync.Mutex
	clusters []*Cluster
	netns    netnsAllocator
}

// New prepares a sandbox rooted at dir. It finds the binaries through KUBEBUILDER_ASSETS
// and the CRDs of Liqo and Cluster API in the Go module cache.
func New(dir string) (*Sandbox, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	crdDirs, err := thirdPartyCRDDirs()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create sandbox dir: %w", err)
	}
	return &Sandbox{Dir: dir, assets: assets, crdDirs: crdDirs}, nil
}

// requiredBinaries are what `make testbins` builds and the harness runs.
var requiredBinaries = []string{"etcd", "kube-apiserver", "kube-scheduler", "kubectl", "kwok"}

// AssetsDir returns the directory of the test binaries, or an error saying how to build them.
func AssetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		return "", fmt.Errorf("KUBEBUILDER_ASSETS is not set: run `make testbins` and use `make test`, " +
			"or export KUBEBUILDER_ASSETS=$(hack/testbins.sh --print)")
	}
	for _, b := range requiredBinaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("%s is missing from KUBEBUILDER_ASSETS=%s: run `make testbins`", b, dir)
		}
	}
	return dir, nil
}

// Binary returns the path of one of the test binaries (e.g. "kubectl").
func (s *Sandbox) Binary(name string) string { return filepath.Join(s.assets, name) }

// StartCluster starts a named cluster. The sandbox stops it in Stop.
func (s *Sandbox) StartCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	c, err := s.startCluster(ctx, opts)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.clusters = append(s.clusters, c)
	s.mu.Unlock()
	return c, nil
}

// StartClusters starts clusters in parallel (each mostly waits for its own processes)
// and returns them in the order of opts; the first failures are joined into the error.
func (s *Sandbox) StartClusters(ctx context.Context, opts ...ClusterOptions) ([]*Cluster, error) {
	clusters := make([]*Cluster, len(opts))
	errs := make([]error, len(opts))
	var wg sync.WaitGroup
	for i, o := range opts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clusters[i], errs[i] = s.StartCluster(ctx, o)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("start %s: %w", o.Name, errs[i])
			}
		}()
	}
	wg.Wait()
	return clusters, errors.Join(errs...)
}

// ProcessesMentioning lists running processes whose command line contains s (e.g. a
// sandbox folder), as "pid: command line", to prove a teardown left nothing behind.
func ProcessesMentioning(s string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if e.Name() == "self" || e.Name() == "thread-self" {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), s) {
			continue
		}
		line := strings.ReplaceAll(string(cmdline), "\x00", " ")
		out = append(out, e.Name()+": "+line[:min(160, len(line))])
	}
	return out
}

// Clusters returns the running clusters in start order.
func (s *Sandbox) Clusters() []*Cluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Cluster(nil), s.clusters...)
}

// StopCluster stops one cluster (a Cluster API provider tearing down what it started)
// and forgets it; a cluster the sandbox does not hold is left alone.
func (s *Sandbox) StopCluster(c *Cluster) {
	s.mu.Lock()
	i := slices.Index(s.clusters, c)
	if i >= 0 {
		s.clusters = slices.Delete(s.clusters, i, i+1)
	}
	s.mu.Unlock()
	if i < 0 {
		return
	}
	c.Stop() // closes its gateways first
}

// Cluster returns the running cluster of that name, or nil.
func (s *Sandbox) Cluster(name string) *Cluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Stop stops every cluster; clusters stop in parallel because each waits for its processes.
func (s *Sandbox) Stop() {
	s.mu.Lock()
	clusters := s.clusters
	s.clusters = nil
	s.mu.Unlock()
	// Gateways first: they talk to two clusters, and the clusters stop in parallel.
	for _, c := range clusters {
		c.closeGateways()
	}
	var wg sync.WaitGroup
	for _, c := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Stop()
		}()
	}
	wg.Wait()
}
