// Command vipkeeper-lab runs the local lab (make lab) and the chaos scenarios and scale
// runs (make bench): a real etcd and kube-apiserver, simulated nodes in network namespaces
// running the real `vipkeeper agent`, and the controller role beside them (internal/lab).
// It is its own command so that the vipkeeper binary never links the test bed.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vipkeeper/vipkeeper/internal/lab"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := lab.Main(ctx, os.Args[1:], os.Stdout)
	stop()
	os.Exit(code)
}
