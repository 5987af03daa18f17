// Command vipkeeper announces the virtual IPs of LoadBalancer Services from exactly one
// node each. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/vipkeeper/vipkeeper/internal/app"
	"github.com/vipkeeper/vipkeeper/internal/lab"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if code, ok := controlPlaneCommand(args); ok { // control-plane, manifest: controlplane.go
		return code
	}
	if len(args) > 0 && args[0] == "lab" { // the local lab (make lab); see internal/lab
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		return lab.Main(ctx, args[1:], os.Stdout)
	}
	var cfg app.Config
	fs := flag.NewFlagSet("vipkeeper", flag.ContinueOnError)
	cfg.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := app.ApplyEnv(fs, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "vipkeeper: environment:", err)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "vipkeeper: invalid configuration:\n"+err.Error())
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := cfg.Logger(os.Stderr)
	if err := app.Run(ctx, cfg, log); err != nil {
		log.Error("vipkeeper stopped", "err", err)
		return 1
	}
	return 0
}
