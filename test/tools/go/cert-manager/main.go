// cert-manager for the chart tests: the real controllers of the library module github.com/cert-manager/cert-manager
// (its cmd/ modules are not published), run out of cluster with a kubeconfig. One process runs what a
// cert-manager install runs for the SelfSigned and CA issuers:
//   - the controller: Issuer/ClusterIssuer readiness, the Certificate controllers (trigger, key manager,
//     request manager, issuing, readiness, revision manager) and the CertificateRequest approver and
//     SelfSigned/CA signers;
//   - the cainjector: caBundle of webhook configurations, APIServices and CRDs from `cert-manager.io/inject-ca-from`.
//
// Each part holds its own leader Lease, as in a real install, so two of these processes against one cluster
// take turns instead of racing. SIGINT/SIGTERM stop both and release the Leases.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sync/errgroup"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	logf "github.com/cert-manager/cert-manager/pkg/logs"
)

type options struct {
	kubeconfig               string
	clusterResourceNamespace string
	leaderElectionNamespace  string
}

func main() {
	var opts options
	// A flag set of its own: controller-runtime registers --kubeconfig on the global one.
	flags := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	flags.StringVar(&opts.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (required)")
	flags.StringVar(&opts.clusterResourceNamespace, "cluster-resource-namespace", "kube-system",
		"namespace of the Secrets that ClusterIssuers refer to")
	flags.StringVar(&opts.leaderElectionNamespace, "leader-election-namespace", "kube-system",
		"namespace of the leader Leases")
	klog.InitFlags(flags)
	_ = flags.Parse(os.Args[1:])
	if opts.kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "--kubeconfig is required")
		os.Exit(2)
	}

	logf.InitLogs()
	log := klog.NewKlogr()
	ctrl.SetLogger(log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, log)

	group, ctx := errgroup.WithContext(ctx)
	group.Go(func() error { return runController(ctx, opts) })
	group.Go(func() error { return runCAInjector(ctx, opts) })
	if err := group.Wait(); err != nil {
		log.Error(err, "cert-manager stopped")
		klog.Flush()
		os.Exit(1)
	}
	log.Info("cert-manager stopped")
	klog.Flush()
}
