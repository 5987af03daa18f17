package cpvip

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vipkeeper/vipkeeper/internal/app"
)

// Main runs `vipkeeper control-plane [flags]` until ctx ends; 2 means bad flags, 1 a failed
// run. Every flag also reads its environment variable (--vip is VIPKEEPER_VIP).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg Config
	fs := flag.NewFlagSet("vipkeeper control-plane", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Bind(fs)
	if code, ok := parse(fs, args, true, stderr); !ok {
		return code
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "vipkeeper control-plane: invalid configuration:\n"+err.Error())
		return 2
	}
	log := cfg.Logger(stderr)
	if err := Run(ctx, cfg, log); err != nil {
		log.Error("vipkeeper control-plane stopped", "err", err)
		return 1
	}
	return 0
}

// parse parses args (and with env the environment); ok is false when the command must
// end with code.
func parse(fs *flag.FlagSet, args []string, env bool, stderr io.Writer) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", fs.Name(), fs.Args())
		return 2, false
	}
	if !env {
		return 0, true
	}
	if err := app.ApplyEnv(fs, os.Getenv); err != nil {
		fmt.Fprintf(stderr, "%s: environment: %v\n", fs.Name(), err)
		return 2, false
	}
	return 0, true
}

// ManifestMain runs `vipkeeper manifest static-pod [flags]`: it prints the static Pod
// manifest of the control-plane mode to stdout.
func ManifestMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "static-pod" {
		fmt.Fprintln(stderr, "usage: vipkeeper manifest static-pod --vip IP [--interface NAME] [--kubeconfig PATH] [flags]")
		return 2
	}
	var mc ManifestConfig
	fs := flag.NewFlagSet("vipkeeper manifest static-pod", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mc.Bind(fs)
	if code, ok := parse(fs, args[1:], false, stderr); !ok {
		return code
	}
	out, err := RenderStaticPod(mc)
	if err != nil {
		fmt.Fprintln(stderr, "vipkeeper manifest static-pod:", err)
		return 2
	}
	_, _ = stdout.Write(out)
	return 0
}
