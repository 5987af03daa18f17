package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vipkeeper/vipkeeper/internal/app"
	"github.com/vipkeeper/vipkeeper/internal/inspect"
	"github.com/vipkeeper/vipkeeper/internal/poolwatch"
	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// statusOptions are the flags of `vipkeeper status` (and `kubectl vipkeeper`).
type statusOptions struct {
	kubeconfig, context, namespace, output string
	class                                  svcrules.Class
	ignoreExcludeLB                        bool
	timeout                                time.Duration
}

func (o *statusOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster)")
	fs.StringVar(&o.context, "context", "", "kubeconfig context (default: the current one)")
	fs.StringVar(&o.namespace, "namespace", "vipkeeper-system", "namespace of vipkeeper's Leases")
	fs.StringVar(&o.output, "o", "", "output: wide or json (default: a table)")
	fs.StringVar(&o.class.Name, "load-balancer-class", svcrules.DefaultClass, "spec.loadBalancerClass the agents serve")
	fs.BoolVar(&o.class.Default, "default-class", false, "the agents also serve LoadBalancer Services without a class")
	fs.BoolVar(&o.ignoreExcludeLB, "ignore-exclude-lb", false, "the agents run with --ignore-exclude-lb")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up on the API after this long")
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	var o statusOptions
	fs := flag.NewFlagSet("vipkeeper status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.bind(fs)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vipkeeper status: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return 2
	}
	if err := app.ApplyEnv(fs, os.Getenv); err != nil {
		fmt.Fprintln(stderr, "vipkeeper status: environment:", err)
		return 2
	}
	if o.output != inspect.FormatTable && o.output != inspect.FormatWide && o.output != inspect.FormatJSON {
		fmt.Fprintf(stderr, "vipkeeper status: -o %q: want wide or json\n", o.output)
		fs.Usage()
		return 2
	}
	if err := o.status(stdout); err != nil {
		fmt.Fprintln(stderr, "vipkeeper status:", err)
		return 1
	}
	return 0
}

func (o statusOptions) status(stdout io.Writer) error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: o.context}).ClientConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	in, err := inspect.Gather(ctx, cs, o.namespace)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return err
	}
	if in.Pools, err = poolwatch.List(ctx, dyn); err != nil {
		return err
	}
	in.Class, in.IgnoreExcludeLB = o.class, o.ignoreExcludeLB
	return inspect.Print(stdout, inspect.Build(in), o.output, time.Now())
}
