package testenv

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

const (
	portAttempts = 3
	saIssuer     = "https://kubernetes.default.svc.cluster.local"
	loopback     = "127.0.0.1"
)

func (e *Env) certDir() string    { return filepath.Join(e.dir, "certs") }
func (e *Env) tokenFile() string  { return filepath.Join(e.dir, "tokens.csv") }
func (e *Env) saKeyFile() string  { return filepath.Join(e.dir, "sa.key") }
func insecureTLS() *tls.Config    { return &tls.Config{InsecureSkipVerify: true} } //nolint:gosec // own loopback child
func loopbackURL(port int) string { return loopback + ":" + strconv.Itoa(port) }
func httpURL(port int) string     { return "http://" + loopbackURL(port) }
func apiURL(host string, port int) string {
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// writeCredentials writes the admin token file and the service-account signing key.
func (e *Env) writeCredentials() error {
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	e.adminToken = hex.EncodeToString(tok)
	line := e.adminToken + `,admin,admin,"system:masters"` + "\n"
	if err := os.WriteFile(e.tokenFile(), []byte(line), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("service-account key: %w", err)
	}
	block := &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
	if err := os.WriteFile(e.saKeyFile(), pem.EncodeToMemory(block), 0o600); err != nil {
		return fmt.Errorf("write service-account key: %w", err)
	}
	return os.MkdirAll(e.certDir(), 0o700)
}

// retryPortClash calls launch again (at most portAttempts times in all) while the child it
// started died because another process took its port first.
func retryPortClash(launch func(attempt int) (*process, error)) error {
	for attempt := 1; ; attempt++ {
		p, err := launch(attempt)
		if err == nil || p == nil || !p.portClash() || attempt == portAttempts {
			return err
		}
	}
}

// startEtcd starts a one-member etcd on plain-http loopback and returns its client address.
func (e *Env) startEtcd(ctx context.Context) (string, error) {
	var addr string
	err := retryPortClash(func(attempt int) (*process, error) {
		client, err1 := freePort(loopback)
		peer, err2 := freePort(loopback)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("etcd ports: %v %v", err1, err2)
		}
		p, err := startProcess("etcd", e.bins.etcd, filepath.Join(e.dir, "etcd.log"),
			etcdArgs(filepath.Join(e.dir, "etcd-"+strconv.Itoa(attempt)), client, peer))
		if err != nil {
			return nil, err
		}
		e.etcd, addr = p, loopbackURL(client)
		return p, e.waitHealthy(ctx, p, httpURL(client)+"/health", "")
	})
	return addr, err
}

func etcdArgs(dataDir string, client, peer int) []string {
	return []string{
		"--name=testenv",
		"--data-dir=" + dataDir,
		"--listen-client-urls=" + httpURL(client),
		"--advertise-client-urls=" + httpURL(client),
		"--listen-peer-urls=" + httpURL(peer),
		"--initial-advertise-peer-urls=" + httpURL(peer),
		"--initial-cluster=testenv=" + httpURL(peer),
		"--unsafe-no-fsync", // test data: durability buys nothing, fsync costs start-up time
		"--log-level=warn",
	}
}

// startAPIServer starts kube-apiserver on a new free port, retrying on port clashes.
func (e *Env) startAPIServer(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return retryPortClash(func(int) (*process, error) {
		port, err := freePort(e.opts.apiHost())
		if err != nil {
			return nil, err
		}
		e.apiPort = port
		return e.launchAPIServerLocked(ctx)
	})
}

// launchAPIServerLocked starts kube-apiserver on e.apiPort and waits for /readyz.
func (e *Env) launchAPIServerLocked(ctx context.Context) (*process, error) {
	p, err := startProcess("kube-apiserver", e.bins.apiserver,
		filepath.Join(e.dir, "kube-apiserver.log"), e.apiserverArgs())
	if err != nil {
		return nil, err
	}
	e.apiserver = p
	return p, e.waitHealthy(ctx, p, apiURL(e.opts.apiHost(), e.apiPort)+"/readyz", e.adminToken)
}

func (e *Env) apiserverArgs() []string {
	return []string{
		"--etcd-servers=http://" + e.proxy.Addr(),
		"--bind-address=" + e.opts.apiHost(),
		"--advertise-address=" + e.opts.apiHost(),
		"--secure-port=" + strconv.Itoa(e.apiPort),
		"--cert-dir=" + e.certDir(), // kube-apiserver generates its serving certificate here
		"--token-auth-file=" + e.tokenFile(),
		"--authorization-mode=RBAC",
		"--service-account-issuer=" + saIssuer,
		"--service-account-key-file=" + e.saKeyFile(),
		"--service-account-signing-key-file=" + e.saKeyFile(),
		"--service-cluster-ip-range=" + e.opts.serviceCIDR(),
		// The endpoint reconciler writes to etcd every 10s for the "kubernetes" Service, which
		// nothing here uses; without it a frozen etcd path carries only the tests' traffic.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
}

// waitHealthy waits for url within the start timeout.
func (e *Env) waitHealthy(ctx context.Context, p *process, url, token string) error {
	ctx, cancel := context.WithTimeout(ctx, e.opts.startTimeout())
	defer cancel()
	return p.waitHealthy(ctx, insecureClient(), url, token)
}
