package cpvip

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/vipkeeper/vipkeeper/internal/daemon"
	"github.com/vipkeeper/vipkeeper/internal/lease"
)

// peerRefresh is how often the list of the other API servers is read from the local one.
const peerRefresh = 10 * time.Second

// peers knows the other control-plane nodes' kube-apiservers, from the EndpointSlice of
// the "kubernetes" Service in "default" (each API server writes its advertise address
// there), and hands out Lease stores on them for a release when the local one is down.
type peers struct {
	base    *rest.Config // the local config: credentials, CA, TLS server name
	newLS   func(rc *rest.Config) (daemon.LeaseStore, error)
	isLocal func(netip.Addr) bool
	log     *slog.Logger

	mu     sync.Mutex
	hosts  []string // https://ip:port, sorted
	stores map[string]daemon.LeaseStore
}

// Stores returns a Lease store per known peer, building each on first use.
func (p *peers) Stores() []daemon.LeaseStore {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []daemon.LeaseStore
	for _, h := range p.hosts {
		s, ok := p.stores[h]
		if !ok {
			rc := rest.CopyConfig(p.base)
			rc.Host = h
			var err error
			if s, err = p.newLS(rc); err != nil {
				p.log.Warn("cannot build a lease client for a peer api server", "server", h, "err", err)
				continue
			}
			p.stores[h] = s
		}
		out = append(out, s)
	}
	return out
}

// run refreshes the peer list from cs until ctx ends; failures keep the last list.
func (p *peers) run(ctx context.Context, cs kubernetes.Interface) {
	t := time.NewTicker(peerRefresh)
	defer t.Stop()
	for {
		p.refresh(ctx, cs)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *peers) refresh(ctx context.Context, cs kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(ctx, peerRefresh/2)
	defer cancel()
	list, err := cs.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).List(ctx,
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kubernetes"})
	if err != nil {
		p.log.Debug("peer api servers not refreshed", "err", err)
		return
	}
	hosts := peerHosts(list.Items, p.isLocal)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !slices.Equal(hosts, p.hosts) {
		p.log.Info("peer api servers", "servers", fmt.Sprint(hosts))
	}
	p.hosts = hosts
}

// peerHosts returns https://addr:port of every ready endpoint that is not this node's.
func peerHosts(eps []discoveryv1.EndpointSlice, isLocal func(netip.Addr) bool) []string {
	var out []string
	for _, s := range eps {
		port := httpsPort(s.Ports)
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || isLocal(ip) {
					continue
				}
				out = append(out, "https://"+net.JoinHostPort(ip.String(), strconv.Itoa(port)))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func httpsPort(ports []discoveryv1.EndpointPort) int {
	for _, p := range ports {
		if p.Port != nil && (p.Name == nil || *p.Name == "https" || len(ports) == 1) {
			return int(*p.Port)
		}
	}
	return 6443
}

// localAddrs reports whether an address is on one of this host's interfaces (or is the
// VIP, which is on the holder's), so the peer list never names this node.
func localAddrs(vip netip.Addr) func(netip.Addr) bool {
	return func(ip netip.Addr) bool {
		if ip.Unmap() == vip.Unmap() || ip.IsLoopback() {
			return true
		}
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return false
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == ip.Unmap() {
				return true
			}
		}
		return false
	}
}

// leaseStoreFor builds the Lease store of one API server (the local one or a peer).
func leaseStoreFor(cfg Config) func(rc *rest.Config) (daemon.LeaseStore, error) {
	return func(rc *rest.Config) (daemon.LeaseStore, error) {
		lc, err := lease.NewClient(rc, lease.ClientConfig{QPS: 50, Burst: 100, Timeout: cfg.RenewDeadline})
		if err != nil {
			return nil, err
		}
		s, err := lease.New(lease.Config{Client: lc.CoordinationV1(), Namespace: cfg.Namespace,
			Identity: cfg.NodeName, Duration: cfg.LeaseDuration})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}
