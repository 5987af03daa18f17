package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// Fixed ports of a Cluster member: each member has its own network namespace.
const (
	EtcdClientPort = 2379
	etcdPeerPort   = 2380
	APIServerPort  = 6443
)

// ClusterMember is one control-plane node of a Cluster.
type ClusterMember struct {
	Name string     // etcd member name; also in the serving certificate
	IP   netip.Addr // the node's address: etcd peer and client URLs, kube-apiserver's advertise address
	// Reach is where this process reaches the member (etcd's client port and
	// kube-apiserver); zero means IP.
	Reach netip.Addr
	// Exec runs a command on the node: a prefix such as ip netns exec <namespace>.
	Exec []string
}

func (m ClusterMember) reach() netip.Addr {
	if m.Reach.IsValid() {
		return m.Reach
	}
	return m.IP
}

// ClusterOptions configures a Cluster.
type ClusterOptions struct {
	BinDir       string        // as Options.BinDir
	StartTimeout time.Duration // per process start; zero means 3 minutes
	Members      []ClusterMember
	// SANs are more IPs in every serving certificate (the control-plane VIP). Each
	// member's IP and Reach are always in its own.
	SANs          []netip.Addr
	ServiceCIDR   string   // as Options.ServiceCIDR
	APIServerArgs []string // extra kube-apiserver flags
}

func (o ClusterOptions) startTimeout() time.Duration {
	if o.StartTimeout > 0 {
		return o.StartTimeout
	}
	return 3 * time.Minute
}

// Cluster is a control plane of several nodes, as kubeadm's stacked etcd builds it: one
// etcd cluster with a member per node, and a kube-apiserver per node that talks to its
// own member only (http://127.0.0.1:2379) and serves on 0.0.0.0:6443 with a certificate of
// the Cluster's CA. All share one static admin token (system:masters) and one
// service-account key.
//
// Invariant: as for Env, every process and the temp dir are gone once Stop returns, and
// the children die with this process (Pdeathsig).
type Cluster struct {
	opts       ClusterOptions
	bins       binaries
	dir        string
	adminToken string
	pki        *pki

	mu      sync.Mutex
	members []*member
	stopped bool
}

// member is the processes of one node.
type member struct {
	ClusterMember
	certFile, keyFile string
	etcd, api         *process // api is nil while stopped
}

// StartCluster starts every etcd member, then every kube-apiserver, and returns once each
// answers /readyz. ctx bounds only the start; on error nothing is left behind.
func StartCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	if len(opts.Members) == 0 {
		return nil, errors.New("cluster: no members")
	}
	bins, err := findBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	dir, err := makeDir()
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	c := &Cluster{opts: opts, bins: bins, dir: dir}
	if err := c.start(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	creds := &Env{dir: c.dir} // the single-node control plane's token file and key
	if err := creds.writeCredentials(); err != nil {
		return err
	}
	c.adminToken = creds.adminToken
	var err error
	if c.pki, err = newPKI(filepath.Join(c.dir, "pki")); err != nil {
		return err
	}
	for _, m := range c.opts.Members {
		mb := &member{ClusterMember: m}
		ips := append([]netip.Addr{m.IP, m.reach()}, c.opts.SANs...)
		if mb.certFile, mb.keyFile, err = c.pki.serving(m.Name, append([]string{m.Name}, APIServerDNSNames...), ips); err != nil {
			return err
		}
		c.members = append(c.members, mb)
	}
	if err := c.startEtcd(ctx); err != nil {
		return err
	}
	for i := range c.members {
		if err := c.StartAPIServer(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// spawn starts bin with args on member m (through its Exec prefix).
func (c *Cluster) spawn(m *member, what, bin string, args []string) (*process, error) {
	argv := append(append(append([]string{}, m.Exec...), bin), args...)
	return startProcess(m.Name+" "+what, argv[0], filepath.Join(c.dir, m.Name+"-"+what+".log"), argv[1:])
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	var peers []string
	for _, m := range c.members {
		peers = append(peers, m.Name+"="+httpOn(m.IP, etcdPeerPort))
	}
	for _, m := range c.members {
		p, err := c.spawn(m, "etcd", c.bins.etcd, c.etcdArgs(m, strings.Join(peers, ",")))
		if err != nil {
			return err
		}
		m.etcd = p
	}
	for _, m := range c.members { // each needs a quorum, so all were started first
		if err := c.waitHealthy(ctx, m.etcd, httpOn(m.reach(), EtcdClientPort)+"/health", ""); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) etcdArgs(m *member, peers string) []string {
	clients := []string{httpOn(m.IP, EtcdClientPort), "http://127.0.0.1:2379"}
	if m.reach() != m.IP {
		clients = append(clients, httpOn(m.reach(), EtcdClientPort))
	}
	return []string{
		"--name=" + m.Name,
		"--data-dir=" + filepath.Join(c.dir, m.Name+"-etcd"),
		"--listen-client-urls=" + strings.Join(clients, ","),
		"--advertise-client-urls=" + httpOn(m.IP, EtcdClientPort),
		"--listen-peer-urls=" + httpOn(m.IP, etcdPeerPort),
		"--initial-advertise-peer-urls=" + httpOn(m.IP, etcdPeerPort),
		"--initial-cluster=" + peers,
		"--initial-cluster-state=new",
		"--initial-cluster-token=" + filepath.Base(c.dir),
		"--unsafe-no-fsync",
		"--log-level=warn",
	}
}

func (c *Cluster) apiserverArgs(m *member) []string {
	return append([]string{
		"--etcd-servers=http://127.0.0.1:2379", // kubeadm's stacked etcd: the local member only
		"--bind-address=0.0.0.0",
		"--advertise-address=" + m.IP.String(),
		fmt.Sprintf("--secure-port=%d", APIServerPort),
		"--tls-cert-file=" + m.certFile,
		"--tls-private-key-file=" + m.keyFile,
		"--token-auth-file=" + filepath.Join(c.dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=" + saIssuer,
		"--service-account-key-file=" + filepath.Join(c.dir, "sa.key"),
		"--service-account-signing-key-file=" + filepath.Join(c.dir, "sa.key"),
		"--service-cluster-ip-range=" + Options{ServiceCIDR: c.opts.ServiceCIDR}.serviceCIDR(),
		"--profiling=false",
	}, c.opts.APIServerArgs...)
}

// waitHealthy polls url (with the cluster's CA) until it answers 200, within the start timeout.
func (c *Cluster) waitHealthy(ctx context.Context, p *process, url, token string) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.startTimeout())
	defer cancel()
	return p.waitHealthy(ctx, c.httpClient(), url, token)
}

func (c *Cluster) httpClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.pki.caPEM)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.DisableKeepAlives = true
	return &http.Client{Transport: tr, Timeout: 2 * time.Second}
}

func httpOn(ip netip.Addr, port int) string {
	return "http://" + net.JoinHostPort(ip.String(), fmt.Sprint(port))
}

// Stop kills every process and removes the temp dir. It is idempotent.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.stopped = true
	for _, m := range c.members {
		if m.api != nil {
			m.api.kill()
		}
	}
	for _, m := range c.members {
		if m.etcd != nil {
			m.etcd.kill()
		}
	}
	_ = os.RemoveAll(c.dir)
}

// CA is the PEM of the CA that signed every serving certificate.
func (c *Cluster) CA() []byte { return c.pki.caPEM }

// AdminToken is the static token of user "admin" in group system:masters.
func (c *Cluster) AdminToken() string { return c.adminToken }

// Dir holds the members' logs (<name>-etcd.log, <name>-kube-apiserver.log).
func (c *Cluster) Dir() string { return c.dir }

// Server is member i's kube-apiserver URL at its Reach address.
func (c *Cluster) Server(i int) string { return apiURL(c.members[i].reach().String(), APIServerPort) }

// AdminConfig is an admin client of member i's kube-apiserver (verified with the CA).
func (c *Cluster) AdminConfig(i int) *rest.Config {
	return &rest.Config{Host: c.Server(i), BearerToken: c.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.pki.caPEM}, QPS: 100, Burst: 200}
}

// StartAPIServer starts member i's kube-apiserver (if it does not run) and waits for /readyz.
func (c *Cluster) StartAPIServer(ctx context.Context, i int) error {
	c.mu.Lock()
	m := c.members[i]
	if c.stopped || m.api != nil {
		c.mu.Unlock()
		return fmt.Errorf("start kube-apiserver of %s: stopped, or already running", m.Name)
	}
	p, err := c.spawn(m, "kube-apiserver", c.bins.apiserver, c.apiserverArgs(m))
	if err != nil {
		c.mu.Unlock()
		return err
	}
	m.api = p
	c.mu.Unlock()
	return c.waitHealthy(ctx, p, c.Server(i)+"/readyz", c.adminToken)
}

// StopAPIServer ends member i's kube-apiserver with sig (SIGTERM: a graceful shutdown;
// SIGKILL: a crash) and waits until it is gone, SIGKILLing it when ctx ends first.
func (c *Cluster) StopAPIServer(ctx context.Context, i int, sig syscall.Signal) {
	c.mu.Lock()
	p := c.members[i].api
	c.members[i].api = nil
	c.mu.Unlock()
	if p == nil {
		return
	}
	_ = syscall.Kill(p.pgid(), sig)
	select {
	case <-p.done:
	case <-ctx.Done():
		p.kill()
	}
}

// SignalEtcd sends sig to member i's etcd (SIGSTOP freezes it, SIGCONT thaws it).
func (c *Cluster) SignalEtcd(i int, sig syscall.Signal) error {
	return c.signal(c.members[i].etcd, sig)
}

// SignalAPIServer sends sig to member i's kube-apiserver, if it runs.
func (c *Cluster) SignalAPIServer(i int, sig syscall.Signal) error {
	c.mu.Lock()
	p := c.members[i].api
	c.mu.Unlock()
	return c.signal(p, sig)
}

func (c *Cluster) signal(p *process, sig syscall.Signal) error {
	if p == nil {
		return errors.New("process not running")
	}
	if err := syscall.Kill(p.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("signal %v to %s: %w", sig, p.name, err)
	}
	return nil
}

// APIServerRunning reports whether member i's kube-apiserver runs (it may be frozen).
func (c *Cluster) APIServerRunning(i int) bool {
	c.mu.Lock()
	p := c.members[i].api
	c.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}
