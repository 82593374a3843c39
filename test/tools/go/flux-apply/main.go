// flux-apply applies Kubernetes manifests the way Flux's kustomize-controller does: the same server-side
// apply engine (github.com/fluxcd/pkg/ssa), field manager, ownership labels and apply options, including
// its drift detection (a server-side dry run compared with the live object: an object that has not drifted
// is not applied at all). It prints the change set, and the API warnings the apiserver returned, as JSON.
//
//	flux-apply [--kubeconfig FILE] [--as USER --as-group GROUP] [--diff] [--force] FILE...
//
// --diff runs only the drift detection (what `flux diff kustomization` does): nothing is written.
// --as/--as-group impersonate, as kubectl's flags do (kustomize-controller runs as its service account).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/normalize"
	ssautils "github.com/fluxcd/pkg/ssa/utils"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// As kustomize-controller names itself and the Kustomization that owns the objects.
const (
	controllerName = "kustomize-controller"
	ownerGroup     = "kustomize.toolkit.fluxcd.io"
)

type change struct {
	Subject string `json:"subject"`
	Action  string `json:"action"`
	// Live and Merged are the objects compared, when --diff found drift.
	Live   map[string]any `json:"live,omitempty"`
	Merged map[string]any `json:"merged,omitempty"`
}

type result struct {
	Changes  []change `json:"changes"`
	Warnings []string `json:"warnings"`
}

// warnings collects the apiserver's Warning headers (admission warnings among them).
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	diff := flag.Bool("diff", false, "only detect drift (server-side dry run); write nothing")
	force := flag.Bool("force", false, "recreate objects whose immutable fields changed (Kustomization spec.force)")
	name := flag.String("kustomization", "apps", "name of the Kustomization the objects belong to (ownership labels)")
	namespace := flag.String("kustomization-namespace", "flux-system", "its namespace")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	var impersonate rest.ImpersonationConfig
	flag.StringVar(&impersonate.UserName, "as", "", "user to impersonate")
	flag.Func("as-group", "group to impersonate (repeatable)", func(group string) error {
		impersonate.Groups = append(impersonate.Groups, group)
		return nil
	})
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: flux-apply [--kubeconfig FILE] [--as USER --as-group GROUP] [--diff] [--force] FILE...")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	out, err := run(ctx, *kubeconfig, impersonate, flag.Args(), *diff, *force, *name, *namespace)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flux-apply:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "flux-apply:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig string, impersonate rest.ImpersonationConfig, files []string,
	diff, force bool, name, namespace string) (*result, error) {
	objects, err := readObjects(files)
	if err != nil {
		return nil, err
	}
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	config.Impersonate = impersonate
	seen := &warnings{}
	config.WarningHandlerWithContext = seen
	kubeClient, err := client.New(config, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	poller := polling.NewStatusPoller(kubeClient, kubeClient.RESTMapper(), polling.Options{})
	manager := ssa.NewResourceManager(kubeClient, poller, ssa.Owner{Field: controllerName, Group: ownerGroup})
	manager.SetOwnerLabels(objects, name, namespace)
	if err := normalize.UnstructuredList(objects); err != nil {
		return nil, err
	}

	out := &result{Changes: []change{}}
	if diff {
		for _, object := range objects {
			entry, live, merged, err := manager.Diff(ctx, object, diffOptions(force))
			if err != nil {
				return nil, err
			}
			c := change{Subject: entry.Subject, Action: string(entry.Action)}
			if live != nil && merged != nil {
				c.Live, c.Merged = live.Object, merged.Object
			}
			out.Changes = append(out.Changes, c)
		}
	} else {
		changeSet, err := manager.ApplyAllStaged(ctx, objects, applyOptions(force))
		if err != nil {
			return nil, err
		}
		for _, entry := range changeSet.Entries {
			out.Changes = append(out.Changes, change{Subject: entry.Subject, Action: string(entry.Action)})
		}
	}
	seen.mu.Lock()
	out.Warnings = append([]string{}, seen.seen...)
	seen.mu.Unlock()
	return out, nil
}

func readObjects(files []string) ([]*unstructured.Unstructured, error) {
	var objects []*unstructured.Unstructured
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		read, err := ssautils.ReadObjects(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		objects = append(objects, read...)
	}
	return objects, nil
}

// applyOptions are kustomize-controller's (internal/controller/kustomization_controller.go, apply).
func applyOptions(force bool) ssa.ApplyOptions {
	opts := ssa.DefaultApplyOptions()
	opts.Force = force
	opts.ExclusionSelector = map[string]string{
		ownerGroup + "/reconcile": "disabled",
		ownerGroup + "/ssa":       "Ignore",
	}
	opts.IfNotPresentSelector = map[string]string{ownerGroup + "/ssa": "IfNotPresent"}
	opts.ForceSelector = map[string]string{ownerGroup + "/force": "enabled"}
	opts.Cleanup = ssa.ApplyCleanupOptions{
		Annotations: []string{
			corev1.LastAppliedConfigAnnotation,
			ownerGroup + "/checksum",
			"fluxcd.io/sync-checksum",
		},
		Labels: []string{"fluxcd.io/sync-gc-mark"},
		FieldManagers: []ssa.FieldManager{
			{Name: "kubectl", OperationType: metav1.ManagedFieldsOperationApply},
			{Name: "kubectl", OperationType: metav1.ManagedFieldsOperationUpdate},
			{Name: "before-first-apply", OperationType: metav1.ManagedFieldsOperationUpdate},
			{Name: controllerName, OperationType: metav1.ManagedFieldsOperationUpdate},
		},
		Exclusions: map[string]string{ownerGroup + "/ssa": "Merge"},
	}
	return opts
}

// diffOptions are the flux CLI's for `flux diff kustomization` (the same selectors as the apply).
func diffOptions(force bool) ssa.DiffOptions {
	apply := applyOptions(force)
	return ssa.DiffOptions{
		Exclusions:           apply.ExclusionSelector,
		IfNotPresentSelector: apply.IfNotPresentSelector,
		Force:                force,
		ForceSelector:        apply.ForceSelector,
	}
}
