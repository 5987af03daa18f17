package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// Config configures a Speaker.
type Config struct {
	// RouterID is the BGP identifier (an IPv4 address; unique per node).
	RouterID netip.Addr
	// OnChange is called, without locks held, when a session comes up or goes down or the
	// plan changes: what this node can carry (CanCarry, Mode) may have changed.
	OnChange func()
	// Backoff bounds the retries of a peer that refused us (1s..60s by default).
	BackoffMin, BackoffMax time.Duration
	// ConnectRetry is GoBGP's interval between TCP connection attempts (3s).
	ConnectRetry time.Duration
	// FlushWait is how long Run waits on stop for the withdrawals to leave before it
	// closes the sessions (200ms).
	FlushWait time.Duration
	Logger    *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.BackoffMin, time.Second)
	def(&c.BackoffMax, time.Minute)
	def(&c.ConnectRetry, 3*time.Second)
	def(&c.FlushWait, 200*time.Millisecond)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if !c.RouterID.Is4() || c.RouterID.IsUnspecified() {
		return fmt.Errorf("bgp: router id %v must be a non-zero IPv4 address", c.RouterID)
	}
	if c.BackoffMax < c.BackoffMin {
		return fmt.Errorf("bgp: BackoffMax %v is shorter than BackoffMin %v", c.BackoffMax, c.BackoffMin)
	}
	return nil
}

// ErrClosed is returned by every call after Run has ended.
var ErrClosed = errors.New("bgp speaker closed")

// Speaker is this node's BGP speaker: an embedded GoBGP that originates one host route per
// announced VIP, to the peers of the plan.
type Speaker struct {
	cfg Config
	log *slog.Logger
	srv *server.BgpServer

	mu       sync.Mutex
	started  bool
	closed   bool
	plan     *Plan
	sessions map[string]*session // by peer name
	single   map[netip.Addr]*fence
	ecmp     map[netip.Addr]bool
	paths    map[netip.Addr]installed
	policy   string        // fingerprint of the policy GoBGP has
	sessKick chan struct{} // cap 1: a session changed state
}

// New builds a Speaker; nothing runs before Run.
func New(cfg Config) (*Speaker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lvl := &slog.LevelVar{}
	lvl.Set(slog.LevelWarn) // GoBGP logs every FSM step at Info
	log := cfg.Logger.With("component", "bgp")
	return &Speaker{cfg: cfg, log: log, srv: server.NewBgpServer(server.LoggerOption(log, lvl)),
		plan: &Plan{}, sessions: map[string]*session{}, single: map[netip.Addr]*fence{},
		ecmp: map[netip.Addr]bool{}, paths: map[netip.Addr]installed{}, sessKick: make(chan struct{}, 1)}, nil
}

// Run runs GoBGP until ctx ends, then withdraws every route, waits FlushWait for the
// withdrawals to leave and closes every session with a Cease, so the routers drop this
// node's routes before the process exits. It returns once GoBGP has stopped.
func (s *Speaker) Run(ctx context.Context) error {
	go s.srv.Serve()
	err := s.start(ctx) // StartBgp is served by Serve, so Serve runs once it returned
	if err == nil {
		var wg sync.WaitGroup
		wg.Go(func() { s.watchRefusals(ctx) })
		<-ctx.Done()
		wg.Wait()
	}
	s.shutdown(context.WithoutCancel(ctx)) // StopBgp also ends Serve
	return err
}

func (s *Speaker) start(ctx context.Context) error {
	err := s.srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: 64512, RouterId: s.cfg.RouterID.String(), ListenPort: -1}}) // every peer has its own local ASN
	if err != nil {
		return fmt.Errorf("start BGP: %w", err)
	}
	if err := s.srv.WatchEvent(ctx, server.WatchEventMessageCallbacks{OnPeerUpdate: s.peerEvent},
		server.WatchPeer()); err != nil {
		return fmt.Errorf("watch BGP peers: %w", err)
	}
	s.mu.Lock()
	s.started = true
	err = s.applyLocked(ctx)
	s.mu.Unlock()
	return err
}

func (s *Speaker) shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	for ip, f := range s.single {
		f.stop()
		delete(s.single, ip)
	}
	clear(s.ecmp)
	n := len(s.paths)
	s.reconcileLocked()
	sessions := s.established()
	s.mu.Unlock()
	if n > 0 && sessions > 0 {
		time.Sleep(s.cfg.FlushWait)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.srv.StopBgp(sctx, &api.StopBgpRequest{}); err != nil {
		s.log.Warn("stopping BGP", "err", err)
	}
	s.log.Info("BGP stopped; routes withdrawn", "routes", n)
}

// SetPlan makes p the node's configuration: peers added, changed or removed, the export
// policy replaced and every route re-evaluated. Sessions of unchanged peers stay up.
func (s *Speaker) SetPlan(ctx context.Context, p *Plan) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	same := s.plan.key() == p.key()
	s.plan = p
	var err error
	if s.started {
		err = s.applyLocked(ctx)
	}
	s.mu.Unlock()
	if !same {
		s.changed()
	}
	return err
}

func (s *Speaker) changed() {
	if s.cfg.OnChange != nil {
		s.cfg.OnChange()
	}
}

// applyLocked brings GoBGP's peers, policy and paths to the plan.
func (s *Speaker) applyLocked(ctx context.Context) error {
	errs := []error{s.syncPeersLocked(ctx)}
	if fp := fingerprint(policyRequest(s.plan)); fp != s.policy {
		if err := s.setPolicy(ctx); err != nil {
			errs = append(errs, fmt.Errorf("set export policy: %w", err))
		} else {
			s.policy = fp
			// Paths already sent were judged by the old policy: judge them again.
			_ = s.srv.ResetPeer(ctx, &api.ResetPeerRequest{Address: "all", Soft: true,
				Direction: api.ResetPeerRequest_DIRECTION_OUT})
		}
	}
	errs = append(errs, s.reconcileLocked())
	return errors.Join(errs...)
}

// setPolicy replaces the routing policy. SetPolicies keeps the assignments GoBGP has, so
// they are set after it.
func (s *Speaker) setPolicy(ctx context.Context) error {
	req := policyRequest(s.plan)
	if err := s.srv.SetPolicies(ctx, &api.SetPoliciesRequest{DefinedSets: req.DefinedSets, Policies: req.Policies}); err != nil {
		return err
	}
	for _, a := range req.Assignments {
		if err := s.srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: a}); err != nil {
			return err
		}
	}
	return nil
}

// reconcileLocked makes GoBGP originate exactly the routes of the wanted VIPs that the
// plan lets this node send.
func (s *Speaker) reconcileLocked() error {
	if !s.started {
		return nil // start applies the whole state once GoBGP runs
	}
	var errs []error
	for ip, in := range s.paths {
		r, ok := s.wantedLocked(ip)
		if !ok || r.key() != in.key {
			if err := deletePath(s.srv, ip, in); err != nil {
				errs = append(errs, err)
				continue
			}
			delete(s.paths, ip)
		}
	}
	for ip := range s.wantedSet() {
		if _, ok := s.paths[ip]; ok {
			continue
		}
		if r, ok := s.wantedLocked(ip); ok {
			in, err := addPath(s.srv, ip, r)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			s.paths[ip] = in
		}
	}
	return errors.Join(errs...)
}

func (s *Speaker) wantedSet() map[netip.Addr]bool {
	out := make(map[netip.Addr]bool, len(s.single)+len(s.ecmp))
	for ip := range s.single {
		out[ip] = true
	}
	for ip := range s.ecmp {
		out[ip] = true
	}
	return out
}

func (s *Speaker) wantedLocked(ip netip.Addr) (route, bool) {
	if _, ok := s.single[ip]; !ok && !s.ecmp[ip] {
		return route{}, false
	}
	return s.plan.routeFor(ip)
}

// fingerprint identifies a policy request by its text (proto messages print stably).
func fingerprint(r *api.SetPoliciesRequest) string { return fmt.Sprint(r) }

// peerEvent records a session state change reported by GoBGP.
func (s *Speaker) peerEvent(ev *apiutil.WatchEventMessage_PeerEvent, _ time.Time) {
	if ev.Type != apiutil.PEER_EVENT_STATE {
		return
	}
	st := ev.Peer.State
	s.mu.Lock()
	sess := s.sessionByAddrLocked(st.NeighborAddress)
	if sess == nil {
		s.mu.Unlock()
		return
	}
	up, changed := sess.observe(st.SessionState, st.DisconnectReason, st.DisconnectMessage)
	if sess.refusedLocked(st.DisconnectReason) {
		s.backoffLocked(sess)
	}
	snap := sess.snapshot()
	s.mu.Unlock()
	s.log.Debug("BGP session", "peer", snap.Peer, "address", st.NeighborAddress.String(),
		"state", snap.State, "reason", snap.Reason)
	if changed {
		s.log.Info("BGP session "+map[bool]string{true: "established", false: "down"}[up], "peer", snap.Peer)
		s.changed()
	}
	s.kickSessions()
}

func (s *Speaker) kickSessions() {
	select {
	case s.sessKick <- struct{}{}:
	default:
	}
}

// SessionChanges delivers a value after any session changed state (coalesced).
func (s *Speaker) SessionChanges() <-chan struct{} { return s.sessKick }

// stateName is the FSM state as BGP names it.
func stateName(st bgp.FSMState) string {
	switch st {
	case bgp.BGP_FSM_IDLE:
		return "Idle"
	case bgp.BGP_FSM_CONNECT:
		return "Connect"
	case bgp.BGP_FSM_ACTIVE:
		return "Active"
	case bgp.BGP_FSM_OPENSENT:
		return "OpenSent"
	case bgp.BGP_FSM_OPENCONFIRM:
		return "OpenConfirm"
	case bgp.BGP_FSM_ESTABLISHED:
		return "Established"
	}
	return "Unknown"
}
