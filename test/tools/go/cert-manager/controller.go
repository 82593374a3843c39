package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	// The issuer types the issuers controllers can set up.
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

// The controllers of a cert-manager install that the SelfSigned and CA issuers need (cert-manager's default
// set minus ACME, Vault, Venafi, the ingress/gateway shims and CertificateSigningRequests).
var controllers = []string{
	issuers.ControllerName,
	clusterissuers.ControllerName,
	trigger.ControllerName,
	keymanager.ControllerName,
	requestmanager.ControllerName,
	issuing.ControllerName,
	readiness.ControllerName,
	revisionmanager.ControllerName,
	approver.ControllerName,
	crselfsigned.CRControllerName,
	crca.CRControllerName,
}

const workers = 5

// runController runs the controllers while this process holds the "cert-manager-controller" Lease.
func runController(ctx context.Context, opts options) error {
	log := logf.FromContext(ctx, "controller")
	factory, err := controller.NewContextFactory(ctx, controller.ContextOptions{
		Kubeconfig:         opts.kubeconfig,
		KubernetesAPIQPS:   20,
		KubernetesAPIBurst: 50,
		IssuerOptions:      controller.IssuerOptions{ClusterResourceNamespace: opts.clusterResourceNamespace},
		CertificateOptions: controller.CertificateOptions{
			// cert-manager's defaults for a failed issuance
			CertificateRequestMinimumBackoffDuration: time.Hour,
			CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
		},
	})
	if err != nil {
		return fmt.Errorf("building the controller context: %w", err)
	}
	shared, err := factory.Build()
	if err != nil {
		return err
	}

	run := func(ctx context.Context) error {
		group, ctx := errgroup.WithContext(ctx)
		for _, name := range controllers {
			construct, ok := controller.Known()[name]
			if !ok {
				return fmt.Errorf("controller %q is not registered", name)
			}
			c, err := construct(factory)
			if err != nil {
				return fmt.Errorf("creating controller %q: %w", name, err)
			}
			log.Info("starting controller", "controller", name)
			group.Go(func() error { return c.Run(workers, ctx) })
		}
		shared.KubeSharedInformerFactory.Start(ctx.Done())
		shared.SharedInformerFactory.Start(ctx.Done())
		return group.Wait()
	}
	return withLeaderLease(ctx, shared.Client, opts.leaderElectionNamespace, "cert-manager-controller", run)
}

// withLeaderLease runs `run` once this process holds the Lease, and releases the Lease when ctx ends.
// Losing the Lease while running is an error: another instance has taken over.
func withLeaderLease(ctx context.Context, client kubernetes.Interface, namespace, name string, run func(context.Context) error) error {
	host, _ := os.Hostname()
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: namespace, Name: name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: fmt.Sprintf("%s-%d", host, os.Getpid())},
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	result := make(chan error, 1)
	leaderelection.RunOrDie(runCtx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            name,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				result <- run(ctx)
				cancel()
			},
			OnStoppedLeading: func() {
				if ctx.Err() == nil && runCtx.Err() == nil {
					result <- fmt.Errorf("lost the %s/%s Lease", namespace, name)
				}
			},
		},
	})
	select {
	case err := <-result:
		return err
	default:
		return ctx.Err()
	}
}
