package plugin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/internal/version"
	"github.com/kubexr/kubectl-xr/manifests"
)

// FieldManager is the server-side apply field manager of everything the plugin applies.
const FieldManager = "kubectl-xr"

// InstallOptions applies the embedded manifests: the LatencyClass CRD, the default classes
// and xr-webhook.
type InstallOptions struct {
	CertManager bool
	// CAPI adds xr-capi-peerer (manifests/capi); capiGiven says --capi was on the command
	// line: without it, an installed xr-capi-peerer is kept.
	CAPI      bool
	capiGiven bool
	Image     string
	Output    string
	Wait      bool
	Timeout   time.Duration

	genericiooptions.IOStreams
	getter genericclioptions.RESTClientGetter
	dryRun *dryRun
	// applied and recorded: this install's objects, and the group-kinds the ApplySet
	// recorded before it (applyset.go), for pruning once everything is applied.
	applied  []*unstructured.Unstructured
	recorded []string
	// capi: this install includes xr-capi-peerer.
	capi bool
}

// NewCmdInstall builds `kubectl xr install`.
func NewCmdInstall(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &InstallOptions{IOStreams: streams, getter: f}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install xr-webhook, the LatencyClass CRD and the default classes (server-side apply)",
		Long: "Applies the manifests embedded in the plugin (manifests/default, or manifests/cert-manager with\n" +
			"--cert-manager) with server-side apply as field manager kubectl-xr and waits until xr-webhook's\n" +
			"Deployment is available (its readiness needs its certificate and a loaded inventory). Only then\n" +
			"are the webhook configurations applied, with the serving certificate's CA: until xr-webhook\n" +
			"answers, nothing waits for it. If it never becomes available, install says why (the pods'\n" +
			"waiting reason), leaves no webhook configuration without replicas behind it, and exits non-zero.",
		Example: "  kubectl xr install\n  kubectl xr install --cert-manager\n  kubectl xr install --capi\n  kubectl xr install --dry-run=client -o yaml\n" +
			"  kubectl xr install --dry-run=server   # the API server judges every object and keeps none",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.capiGiven = cmd.Flags().Changed("capi")
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.CAPI, "capi", false, "also install xr-capi-peerer, which peers Cluster API clusters labelled kubexr.io/peer=true automatically "+
		"(this cluster must be Cluster API's management cluster); once installed it is kept until --capi=false")
	cmd.Flags().BoolVar(&o.CertManager, "cert-manager", false, "take certificates from cert-manager instead of xr-webhook's own rotation")
	cmd.Flags().StringVar(&o.Image, "image", "", "xr-webhook image (default: the one installed if it is not a release's, else "+version.ImageRepository+":<this plugin's version>)")
	o.dryRun = addDryRun(cmd)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "with --dry-run=client|server: print the objects as yaml or json")
	cmd.Flags().BoolVar(&o.Wait, "wait", true, "wait until xr-webhook is available before applying its webhook configurations (false: apply everything at once)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 5*time.Minute, "how long to wait")
	return cmd
}

// Validate checks the dry-run and output flags.
func (o *InstallOptions) Validate() error {
	if err := o.dryRun.Complete(); err != nil {
		return err
	}
	return validateDryRunOutput(o.dryRun, o.Output)
}

// validateDryRunOutput: a writing command prints objects only for a dry run, as yaml or json.
func validateDryRunOutput(d *dryRun, output string) error {
	switch {
	case output == "":
		return nil
	case d.none():
		return fmt.Errorf("-o %s is only for --dry-run=client or --dry-run=server", output)
	case output != "yaml" && output != "json":
		return fmt.Errorf("-o %q is not supported here: use yaml or json", output)
	}
	return nil
}

// image is the xr-webhook image to deploy: --image; else the image already deployed when
// someone gave it (it is not a release's), so re-running install keeps it; else the
// release of this plugin's version. A development build names no release: it needs
// --image. installed is the deployed image ("" if none).
func (o *InstallOptions) image(installed string) (image, why string, err error) {
	switch {
	case o.Image != "":
		return o.Image, "", nil
	case installed != "" && !strings.HasPrefix(installed, version.ImageRepository+":"):
		return installed, fmt.Sprintf("keeping xr-webhook's image %s (--image to change it)", installed), nil
	case version.Released(version.Version):
		return version.Image(version.Version), "", nil
	}
	return "", "", fmt.Errorf("this kubectl-xr is a development build (version %q) and names no released xr-webhook image: "+
		"pass --image REF (make image builds one into dist/)", version.Version)
}

// releaseIfRemoved releases the Clusters xr-capi-peerer held when --capi=false removed it.
func (o *InstallOptions) releaseIfRemoved(ctx context.Context, c client.Client) error {
	if !o.capiGiven || o.CAPI {
		return nil
	}
	return releaseClusters(ctx, c, o.dryRun, o.Out)
}

// capiWebhookConfiguration is the ValidatingWebhookConfiguration of Cluster API's core
// provider (clusterctl init names it so).
const capiWebhookConfiguration = "capi-validating-webhook-configuration"

// withCAPI says whether this install includes xr-capi-peerer: as --capi says, else as
// the cluster has it (re-running install, e.g. to upgrade, must not prune it). With it,
// Cluster API must be installed: xr-capi-peerer watches its Clusters.
func (o *InstallOptions) withCAPI(ctx context.Context) (bool, error) {
	if o.dryRun.client() {
		return o.CAPI, nil // a client dry run does not read the cluster
	}
	if o.capiGiven && !o.CAPI {
		return false, nil
	}
	if !o.capiGiven {
		k, err := newKube(o.getter)
		if err != nil {
			return false, err
		}
		err = k.client.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: peererName}, &appsv1.Deployment{})
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read the installed xr-capi-peerer: %w", err)
		}
		fmt.Fprintln(o.ErrOut, "keeping xr-capi-peerer (--capi=false removes it)")
	}
	// Cluster API's CRDs can be present where its controllers do not run (left behind, or
	// installed for tools); its webhook configuration, which clusterctl init creates with
	// the core provider, says it runs here.
	k, err := newKube(o.getter)
	if err != nil {
		return false, err
	}
	err = k.client.Get(ctx, client.ObjectKey{Name: capiWebhookConfiguration}, &admissionregistrationv1.ValidatingWebhookConfiguration{})
	if apierrors.IsNotFound(err) {
		return false, fmt.Errorf("--capi: Cluster API does not run on this cluster (no ValidatingWebhookConfiguration %s, which clusterctl init creates): "+
			"xr-capi-peerer runs on Cluster API's management cluster; install Cluster API there first", capiWebhookConfiguration)
	}
	if err != nil {
		return false, fmt.Errorf("--capi: look for Cluster API: %w", err)
	}
	return true, nil
}

// installedImage is the image of the deployed xr-webhook, "" if there is none.
func installedImage(ctx context.Context, c client.Client) (string, error) {
	dep := &appsv1.Deployment{}
	err := c.Get(ctx, client.ObjectKey{Namespace: "kubexr-system", Name: "xr-webhook"}, dep)
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the installed xr-webhook: %w", err)
	}
	if cs := dep.Spec.Template.Spec.Containers; len(cs) > 0 {
		return cs[0].Image, nil
	}
	return "", nil
}

func (o *InstallOptions) objects(image string, capi bool) ([]*unstructured.Unstructured, error) {
	name := manifests.Default
	if o.CertManager {
		name = manifests.CertManager
	}
	return InstallObjects(name, image, capi)
}

// InstallObjects are the objects install applies, in order, from the embedded manifests
// name (manifests.Default or manifests.CertManager), with capi manifests.CAPI after them,
// with xr-webhook (and xr-capi-peerer, in the same image) running image. make dist writes
// them as dist/install.yaml.
func InstallObjects(name, image string, capi bool) ([]*unstructured.Unstructured, error) {
	objs, err := manifests.Render(name)
	if err != nil {
		return nil, err
	}
	if capi {
		peerer, err := manifests.Render(manifests.CAPI)
		if err != nil {
			return nil, err
		}
		// Before the webhook configurations, which kubectl's order puts last.
		rest, configurations := splitConfigurations(objs)
		objs = append(append(rest, peerer...), configurations...)
	}
	for _, obj := range objs {
		if obj.GetKind() == "Deployment" && (obj.GetName() == webhookName || obj.GetName() == peererName) {
			containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
			containers[0].(map[string]any)["image"] = image
			if err := unstructured.SetNestedSlice(obj.Object, containers, "spec", "template", "spec", "containers"); err != nil {
				return nil, err
			}
		}
	}
	return objs, nil
}

// Run applies the manifests and waits.
func (o *InstallOptions) Run(ctx context.Context) error {
	installed := ""
	if o.Image == "" { // only then does what is deployed matter
		k, err := newKube(o.getter)
		if err != nil {
			return err
		}
		if installed, err = installedImage(ctx, k.client); err != nil {
			return err
		}
	}
	image, why, err := o.image(installed)
	if err != nil {
		return err
	}
	if why != "" {
		fmt.Fprintln(o.ErrOut, why)
	}
	if o.capi, err = o.withCAPI(ctx); err != nil {
		return err
	}
	objs, err := o.objects(image, o.capi)
	if err != nil {
		return err
	}
	markMembers(objs)
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List"}}
	if o.dryRun.client() {
		for _, obj := range objs {
			list.Items = append(list.Items, *obj)
			if o.Output == "" {
				fmt.Fprintf(o.Out, "%s/%s serverside-applied (dry run)\n", kindGroup(obj), obj.GetName())
			}
		}
		if o.Output != "" {
			return printObject(o.Out, o.Output, list)
		}
		return nil
	}
	k, err := newKube(o.getter)
	if err != nil {
		return err
	}
	mapper, err := o.getter.ToRESTMapper()
	if err != nil {
		return err
	}
	o.applied = objs
	if o.dryRun.none() {
		if o.recorded, err = recordedGroupKinds(ctx, k.client); err != nil {
			return err
		}
	}
	rest, configurations := splitConfigurations(objs)
	// Waiting, the webhook configurations come last, once xr-webhook answers: applied
	// before, failurePolicy Fail would hold every opted-in namespace's pods behind
	// replicas that may never start. Without waiting everything goes at once.
	deferConfigurations := o.Wait && o.dryRun.none()
	ordered := objs
	if deferConfigurations {
		ordered = rest
	} else if o.dryRun.none() {
		if err := o.withServingCA(ctx, k.client, configurations); err != nil {
			return err
		}
	}
	for _, obj := range ordered {
		err := applyOne(ctx, k.client, mapper, obj, o.dryRun)
		// A server dry run creates nothing, so objects of a kind whose CRD it would
		// create (the default LatencyClasses), or in the namespace it would create,
		// cannot be judged yet.
		if o.dryRun.server() && meta.IsNoMatchError(err) {
			fmt.Fprintf(o.ErrOut, "%s/%s not checked: its CustomResourceDefinition is not installed yet (server dry run)\n", kindGroup(obj), obj.GetName())
			continue
		}
		if o.dryRun.server() && apierrors.IsNotFound(err) && obj.GetNamespace() != "" {
			fmt.Fprintf(o.ErrOut, "%s/%s not checked: namespace %s does not exist yet (server dry run)\n", kindGroup(obj), obj.GetName(), obj.GetNamespace())
			continue
		}
		if err != nil {
			return err
		}
		list.Items = append(list.Items, *obj)
		if o.Output == "" {
			fmt.Fprintf(o.Out, "%s/%s serverside-applied%s\n", kindGroup(obj), obj.GetName(), o.dryRun.suffix())
		}
		// The record, in the namespace just applied, names every kind before any member
		// of it exists, so an install cut short still leaves them findable.
		if o.dryRun.none() && obj.GetKind() == "Namespace" && obj.GetName() == installNamespace {
			if err := writeParent(ctx, k.client, union(o.recorded, groupKinds(objs))); err != nil {
				return err
			}
		}
	}
	if o.Output != "" {
		return printObject(o.Out, o.Output, list)
	}
	if !deferConfigurations {
		if o.dryRun.none() {
			if err := o.prune(ctx, k.client, mapper); err != nil {
				return err
			}
			return o.releaseIfRemoved(ctx, k.client)
		}
		return nil
	}
	return o.waitThenConfigure(ctx, k.client, mapper, configurations)
}

// withServingCA puts the serving certificate's CA, if there is one yet, into the
// configurations about to be applied.
func (o *InstallOptions) withServingCA(ctx context.Context, c client.Client, configurations []*unstructured.Unstructured) error {
	ca, err := servingCA(ctx, c)
	if err != nil {
		return err
	}
	return withCABundle(configurations, ca)
}

// waitThenConfigure waits for xr-webhook, then applies its webhook configurations with
// the serving CA and checks they carry one. When it gives up, no configuration is left
// with nothing behind it.
func (o *InstallOptions) waitThenConfigure(ctx context.Context, c client.Client, mapper meta.RESTMapper, configurations []*unstructured.Unstructured) error {
	start := time.Now()
	fmt.Fprintln(o.ErrOut, "Waiting for xr-webhook to be available...")
	if err := waitAvailable(ctx, c, webhookName, o.Timeout); err != nil {
		if serving := availableReplicas(ctx, c); serving > 0 {
			return fmt.Errorf("%w; %d replica(s) of the previous version still serve, their webhook configurations are kept", err, serving)
		}
		if rmErr := removeConfigurations(context.WithoutCancel(ctx), c, configurations); rmErr != nil {
			return fmt.Errorf("%w; and removing the webhook configurations failed: %v", err, rmErr)
		}
		return fmt.Errorf("%w; no webhook configuration is applied, so nothing waits for it", err)
	}
	if err := o.withServingCA(ctx, c, configurations); err != nil {
		return err
	}
	for _, cfg := range configurations {
		if err := applyOne(ctx, c, mapper, cfg, o.dryRun); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "%s/%s serverside-applied\n", kindGroup(cfg), cfg.GetName())
	}
	// With cert-manager the CA may come from its cainjector a moment later.
	left := max(o.Timeout-time.Since(start), 30*time.Second)
	err := wait.PollUntilContextTimeout(ctx, time.Second, left, true, func(ctx context.Context) (bool, error) {
		return carryCA(ctx, c, configurations)
	})
	if err != nil {
		_ = removeConfigurations(context.WithoutCancel(ctx), c, configurations)
		return fmt.Errorf("the webhook configurations carry no CA bundle after %s, so the API server could not verify xr-webhook: removed them "+
			"(with --cert-manager: is cert-manager's cainjector running? kubectl -n %s get certificate)", left.Round(time.Second), installNamespace)
	}
	if err := waitAdmits(ctx, c, max(o.Timeout-time.Since(start), 10*time.Second)); err != nil {
		_ = removeConfigurations(context.WithoutCancel(ctx), c, configurations)
		return fmt.Errorf("%w: removed its webhook configurations, so nothing waits for it (kubectl -n %s logs deploy/%s)", err, installNamespace, webhookName)
	}
	if err := o.prune(ctx, c, mapper); err != nil {
		return err
	}
	if err := o.releaseIfRemoved(ctx, c); err != nil {
		return err
	}
	fmt.Fprintln(o.Out, "xr-webhook is available")
	if o.capi {
		if err := waitAvailable(ctx, c, peererName, max(o.Timeout-time.Since(start), 10*time.Second)); err != nil {
			return fmt.Errorf("%w (xr-webhook is installed and available; run install again once it is mended)", err)
		}
		fmt.Fprintln(o.Out, "xr-capi-peerer is available")
	}
	return nil
}

// prune deletes what an earlier install applied and this release no longer has.
func (o *InstallOptions) prune(ctx context.Context, c client.Client, mapper meta.RESTMapper) error {
	return prune(ctx, c, mapper, o.applied, o.recorded, func(line string) { fmt.Fprintln(o.Out, line) })
}

// applyOne server-side applies obj and leaves the server's answer in it; a kind that is
// not served yet (a CRD applied a moment ago) is retried after resetting the REST mapper,
// except in a server dry run, where no CRD was created (the NoMatch error is returned).
func applyOne(ctx context.Context, c client.Client, mapper meta.RESTMapper, obj *unstructured.Unstructured, d *dryRun) error {
	opts := append([]client.PatchOption{client.FieldOwner(FieldManager), client.ForceOwnership}, d.patchOpts()...)
	var noMatch error
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		applied := obj.DeepCopy()
		err := c.Patch(ctx, applied, client.Apply, opts...)
		if err == nil {
			obj.Object = applied.Object
		}
		if meta.IsNoMatchError(err) && d.server() {
			noMatch = err
			return true, nil
		}
		if meta.IsNoMatchError(err) {
			if r, ok := mapper.(meta.ResettableRESTMapper); ok {
				r.Reset()
			}
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("apply %s/%s: %w", kindGroup(obj), obj.GetName(), err)
	}
	return noMatch
}

func kindGroup(obj *unstructured.Unstructured) string { return qualifiedKind(obj.GroupVersionKind()) }

// UninstallOptions removes xr-webhook.
type UninstallOptions struct {
	IncludeCRDs bool
	genericiooptions.IOStreams
	getter genericclioptions.RESTClientGetter
	dryRun *dryRun
}

// NewCmdUninstall builds `kubectl xr uninstall`.
func NewCmdUninstall(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UninstallOptions{IOStreams: streams, getter: f}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove xr-webhook (the webhook configurations first); keep LatencyClasses unless --include-crds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.dryRun.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.dryRun = addDryRun(cmd)
	cmd.Flags().BoolVar(&o.IncludeCRDs, "include-crds", false, "also delete the LatencyClass CRD, and with it every LatencyClass")
	return cmd
}

// Run deletes the installed objects in reverse order.
func (o *UninstallOptions) Run(ctx context.Context) error {
	objs, err := manifests.Render(manifests.Default)
	if err != nil {
		return err
	}
	k, err := newKube(o.getter)
	if err != nil {
		return err
	}
	mapper, err := o.getter.ToRESTMapper()
	if err != nil {
		return err
	}
	// First what earlier installs recorded and this release does not know (a release
	// dropped it), then this release's objects, webhook configurations first.
	recorded, err := recordedGroupKinds(ctx, k.client)
	if err != nil {
		return err
	}
	live, err := members(ctx, k.client, mapper, recorded)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, obj := range objs {
		known[objectKey(obj)] = true
	}
	dropped := slices.DeleteFunc(live, func(obj *unstructured.Unstructured) bool { return known[objectKey(obj)] })
	slices.Reverse(objs)
	parent := &unstructured.Unstructured{}
	parent.SetAPIVersion("v1")
	parent.SetKind("ConfigMap")
	parent.SetNamespace(installNamespace)
	parent.SetName(applySetParentName)
	// The record goes just before its namespace, after every member.
	order := append(dropped, objs...)
	at := slices.IndexFunc(order, func(obj *unstructured.Unstructured) bool { return obj.GetKind() == "Namespace" })
	order = slices.Insert(order, max(at, 0), parent)
	for _, obj := range order {
		if !o.IncludeCRDs && (obj.GetKind() == "CustomResourceDefinition" || obj.GetKind() == "LatencyClass") {
			continue
		}
		var err error
		if o.dryRun.client() { // only what exists would be deleted
			err = k.client.Get(ctx, client.ObjectKeyFromObject(obj), obj.DeepCopy())
		} else {
			err = k.client.Delete(ctx, obj, append(o.dryRun.deleteOpts(), client.PropagationPolicy("Background"))...)
		}
		switch {
		case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
			continue
		case err != nil:
			return fmt.Errorf("delete %s/%s: %w", kindGroup(obj), obj.GetName(), err)
		}
		fmt.Fprintf(o.Out, "%s/%s deleted%s\n", kindGroup(obj), obj.GetName(), o.dryRun.suffix())
	}
	return releaseClusters(ctx, k.client, o.dryRun, o.Out)
}
