package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/vipkeeper/vipkeeper/internal/app"
)

// binder is a role's configuration.
type binder interface {
	Bind(fs *flag.FlagSet)
	Validate() error
}

// resolver is a configuration with defaults that depend on other settings.
type resolver interface {
	Resolve(set func(name string) bool)
}

// parse fills cfg from args and the environment. It returns 0 and false to go on, or the
// exit code: 0 after --help, 2 for bad flags, stray arguments or an invalid configuration.
func parse(name string, cfg binder, args []string, stderr io.Writer) (int, bool) {
	fs := flag.NewFlagSet("vipkeeper "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Bind(fs)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0, false
	} else if err != nil {
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vipkeeper %s: unexpected arguments %q\n", name, fs.Args())
		fs.Usage()
		return 2, false
	}
	if err := app.ApplyEnv(fs, os.Getenv); err != nil {
		fmt.Fprintf(stderr, "vipkeeper %s: environment: %v\n", name, err)
		return 2, false
	}
	if r, ok := cfg.(resolver); ok {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		r.Resolve(func(name string) bool { return set[name] })
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "vipkeeper %s: invalid configuration:\n%v\n", name, err)
		return 2, false
	}
	return 0, true
}

func runAgent(args []string, _, stderr io.Writer) int {
	var cfg app.AgentConfig
	if code, ok := parse("agent", &cfg, args, stderr); !ok {
		return code
	}
	log := cfg.Log.Setup(stderr).With("role", "agent", "version", version)
	return runRole(log, func(ctx context.Context) error { return app.RunAgent(ctx, cfg, log) })
}

func runController(args []string, _, stderr io.Writer) int {
	var cfg app.ControllerConfig
	if code, ok := parse("controller", &cfg, args, stderr); !ok {
		return code
	}
	log := cfg.Log.Setup(stderr).With("role", "controller", "version", version)
	return runRole(log, func(ctx context.Context) error { return app.RunController(ctx, cfg, log) })
}

// runRole runs a role until SIGTERM or SIGINT.
func runRole(log *slog.Logger, run func(context.Context) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Info("starting")
	if err := run(ctx); err != nil {
		log.Error("vipkeeper stopped", "err", err)
		return 1
	}
	return 0
}
