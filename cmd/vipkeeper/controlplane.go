package main

import (
	"context"
	"io"
	"os/signal"
	"syscall"

	"github.com/vipkeeper/vipkeeper/internal/cpvip"
)

// `vipkeeper control-plane ...` runs the control-plane VIP (a static Pod on every
// control-plane node) and `vipkeeper manifest static-pod ...` prints its manifest; see
// internal/cpvip and docs/control-plane.md.
func init() {
	register(command{"control-plane", "run the control-plane VIP for kube-apiserver (a static Pod)", runControlPlane})
	register(command{"manifest", "print a manifest: static-pod (the control-plane VIP's)", runManifest})
}

func runControlPlane(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return cpvip.Main(ctx, args, stdout, stderr)
}

func runManifest(args []string, stdout, stderr io.Writer) int {
	return cpvip.ManifestMain(args, stdout, stderr)
}
