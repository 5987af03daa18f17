package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vipkeeper/vipkeeper/internal/cpvip"
)

// controlPlaneCommand runs `vipkeeper control-plane ...` (the control-plane VIP, a static
// Pod on every control-plane node) and `vipkeeper manifest static-pod ...` (its manifest);
// see internal/cpvip and docs/control-plane.md. ok is false for every other command.
func controlPlaneCommand(args []string) (code int, ok bool) {
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case "control-plane":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		return cpvip.Main(ctx, args[1:], os.Stdout, os.Stderr), true
	case "manifest":
		return cpvip.ManifestMain(args[1:], os.Stdout, os.Stderr), true
	}
	return 0, false
}
