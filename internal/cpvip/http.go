package cpvip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveHealth listens on addr (empty: off) for /livez (the process serves HTTP; never
// asks the API server), /readyz (the Lease cache is synced and the electors run) and
// /metrics, until ctx ends. A listen error is returned at once.
func serveHealth(ctx context.Context, addr string, p *parts, log *slog.Logger) (func() error, error) {
	if addr == "" {
		return func() error { return nil }, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !p.d.Synced() {
			http.Error(w, "lease cache not synced", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	log.Info("serving", "addr", ln.Addr().String())
	return func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve %s: %w", addr, err)
		}
		return nil
	}, nil
}

// group runs the background parts; the first to fail early cancels the rest.
type group struct{ wg sync.WaitGroup }

func (g *group) start(f func() error, cancel context.CancelCauseFunc, name string) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			cancel(fmt.Errorf("%s: %w", name, err))
		}
	}()
}

func (g *group) wait() { g.wg.Wait() }
