package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// Options configures a control plane. The zero value is ready to use.
type Options struct {
	// BinDir holds etcd and kube-apiserver; empty means $VIPKEEPER_BIN, else <repo>/bin.
	BinDir string
	// StartTimeout bounds the start (and each restart) of each process; zero means 90s.
	StartTimeout time.Duration
	// BindAddress is the IP kube-apiserver binds to and advertises, so its self-generated
	// serving certificate names it; empty means 127.0.0.1. It must be an address in this
	// process's network namespace (the lab puts one on a bridge). Etcd stays on loopback.
	BindAddress string
	// ServiceCIDR is kube-apiserver's --service-cluster-ip-range, one CIDR or an IPv4 and
	// an IPv6 one separated by a comma; empty means DefaultServiceCIDR (dual-stack).
	ServiceCIDR string
}

// DefaultServiceCIDR makes the control plane dual-stack for Services, IPv4 first, so a
// Service that names no family stays single-stack IPv4. The ranges are virtual: only
// allocated to Service objects, never put on an interface (there is no kube-proxy).
const DefaultServiceCIDR = "10.0.0.0/24,fd00:10::/108"

func (o Options) serviceCIDR() string {
	if o.ServiceCIDR != "" {
		return o.ServiceCIDR
	}
	return DefaultServiceCIDR
}

// apiHost is the address kube-apiserver binds to.
func (o Options) apiHost() string {
	if o.BindAddress != "" {
		return o.BindAddress
	}
	return loopback
}

func (o Options) startTimeout() time.Duration {
	if o.StartTimeout > 0 {
		return o.StartTimeout
	}
	return 90 * time.Second
}

// Env is one running etcd + FaultProxy + kube-apiserver, all on loopback, in one temp dir.
type Env struct {
	opts       Options
	bins       binaries
	dir        string
	adminToken string
	etcd       *process
	proxy      *FaultProxy
	apiPort    int
	caPEM      []byte

	mu        sync.Mutex
	apiserver *process // nil while killed
	stopped   bool
}

// Start starts etcd, the proxy and kube-apiserver, and returns once /readyz answers 200.
// ctx bounds only the start; the processes run until Stop. On error nothing is left behind.
func Start(ctx context.Context, opts Options) (*Env, error) {
	bins, err := findBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	dir, err := makeDir()
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	e := &Env{opts: opts, bins: bins, dir: dir}
	if err := e.start(ctx); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

func (e *Env) start(ctx context.Context) error {
	if err := e.writeCredentials(); err != nil {
		return err
	}
	clientURL, err := e.startEtcd(ctx)
	if err != nil {
		return err
	}
	if e.proxy, err = NewFaultProxy(clientURL); err != nil {
		return err
	}
	if err := e.startAPIServer(ctx); err != nil {
		return err
	}
	e.caPEM, err = os.ReadFile(filepath.Join(e.certDir(), "apiserver.crt"))
	if err != nil {
		return fmt.Errorf("read serving certificate of kube-apiserver: %w", err)
	}
	return nil
}

// StartTest starts a private control plane for one test and stops it in t.Cleanup. It
// skips the test when the binaries are missing (fails if $CI is set).
func StartTest(t testing.TB, opts Options) *Env {
	t.Helper()
	e, err := Start(t.Context(), opts)
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(e.Stop)
	return e
}

// Stop kills kube-apiserver and etcd (SIGKILL to each process group, then waits for them),
// closes the proxy and removes the temp dir. It is idempotent.
func (e *Env) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return
	}
	e.stopped = true
	if e.apiserver != nil {
		e.apiserver.kill()
	}
	if e.proxy != nil {
		_ = e.proxy.Close()
	}
	if e.etcd != nil {
		e.etcd.kill()
	}
	_ = os.RemoveAll(e.dir)
}

// Proxy is the fault proxy that kube-apiserver uses as its etcd endpoint.
func (e *Env) Proxy() *FaultProxy { return e.proxy }

// AdminConfig is a config for user "admin" in group system:masters (static token), which
// verifies the API server's self-generated certificate.
func (e *Env) AdminConfig() *rest.Config {
	return &rest.Config{
		Host:            apiURL(e.opts.apiHost(), e.apiPort),
		BearerToken:     e.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: e.caPEM},
		QPS:             100,
		Burst:           200,
	}
}

// KillAPIServer kills kube-apiserver with SIGKILL and waits until it is gone. Etcd and the
// proxy keep running; RestartAPIServer brings it back on the same address.
func (e *Env) KillAPIServer() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.apiserver != nil {
		e.apiserver.kill()
		e.apiserver = nil
	}
}

// RestartAPIServer kills kube-apiserver if it runs and starts it again with the same flags,
// port, certificates and tokens, returning once /readyz answers 200.
func (e *Env) RestartAPIServer(ctx context.Context) error {
	e.KillAPIServer()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return errors.New("restart kube-apiserver: env stopped")
	}
	_, err := e.launchAPIServerLocked(ctx)
	return err
}

// insecureClient is used only to poll the health of our own loopback children, before the
// API server's certificate exists.
func insecureClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = insecureTLS()
	tr.DisableKeepAlives = true
	return &http.Client{Transport: tr, Timeout: 2 * time.Second}
}
