package lab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
)

// ReaderConfig configures a Reader.
type ReaderConfig struct {
	NetNS    string     // the client's namespace; every connection is dialled from there
	VIP      netip.Addr // the reads go to https://VIP:6443
	CA       []byte     // verifies the serving certificate, for the VIP's own name
	Token    string
	Interval time.Duration // a read starts every Interval; default 100ms
	Timeout  time.Duration // per read; default 2s
	Path     string        // default /api/v1/namespaces/kube-system (a read etcd answers)
}

// Reader is a Kubernetes client on the data LAN: it starts a GET through the VIP every
// interval, each on a fresh connection (so a read measures what the VIP allows, not how
// long a client keeps a dead HTTP/2 connection), and keeps every result.
type Reader struct {
	cfg    ReaderConfig
	client *http.Client

	mu      sync.Mutex
	results []ReadResult
	wg      sync.WaitGroup
}

// ReadResult is one read.
type ReadResult struct {
	Start, End time.Time
	OK         bool
	Err        string
}

// maxInFlight bounds the reads waiting for an answer (Timeout / Interval, at most).
const maxInFlight = 64

// NewReader returns a Reader; Run starts it.
func NewReader(cfg ReaderConfig) *Reader {
	if cfg.Interval <= 0 {
		cfg.Interval = 100 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Path == "" {
		cfg.Path = "/api/v1/namespaces/kube-system"
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cfg.CA)
	tr := &http.Transport{DialContext: dialIn(cfg.NetNS), DisableKeepAlives: true, ForceAttemptHTTP2: false,
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &Reader{cfg: cfg, client: &http.Client{Transport: tr, Timeout: cfg.Timeout}}
}

// dialIn dials from network namespace ns: the socket stays there.
func dialIn(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := inNS(ns, func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// Run starts a read every interval until ctx ends, then waits for those in flight.
func (r *Reader) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	sem := make(chan struct{}, maxInFlight)
	url := "https://" + net.JoinHostPort(r.cfg.VIP.String(), strconv.Itoa(6443)) + r.cfg.Path
	for {
		select {
		case <-ctx.Done():
			r.wg.Wait()
			return
		case <-t.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			r.record(ReadResult{Start: time.Now(), End: time.Now(), Err: "too many reads in flight"})
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() { <-sem }()
			r.record(r.read(ctx, url))
		}()
	}
}

func (r *Reader) read(ctx context.Context, url string) ReadResult {
	res := ReadResult{Start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err == nil {
		req.Header.Set("Authorization", "Bearer "+r.cfg.Token)
		var resp *http.Response
		if resp, err = r.client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %s", resp.Status)
			}
		}
	}
	res.End, res.OK = time.Now(), err == nil
	if err != nil {
		res.Err = err.Error()
	}
	return res
}

func (r *Reader) record(res ReadResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
}

// Results returns the reads that started in [from, to] (zero bounds are open).
func (r *Reader) Results(from, to time.Time) []ReadResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ReadResult
	for _, res := range r.results {
		if (from.IsZero() || !res.Start.Before(from)) && (to.IsZero() || !res.Start.After(to)) {
			out = append(out, res)
		}
	}
	return out
}

// ReadStats summarises the reads of a window.
type ReadStats struct {
	Total, Failed int
	// LongestGap is the longest time in [from, to] in which no read completed
	// successfully (one Interval when all is well).
	LongestGap time.Duration
	FirstError string
}

// FailedShare is Failed / Total (0 without reads).
func (s ReadStats) FailedShare() float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.Failed) / float64(s.Total)
}

// SummarizeReads computes ReadStats for reads started in [from, to].
func SummarizeReads(reads []ReadResult, from, to time.Time) ReadStats {
	var st ReadStats
	last := from
	for _, r := range sortedByEnd(reads) {
		st.Total++
		if !r.OK {
			st.Failed++
			if st.FirstError == "" {
				st.FirstError = r.Err
			}
			continue
		}
		st.LongestGap = max(st.LongestGap, r.End.Sub(last))
		last = r.End
	}
	if !to.IsZero() && to.After(last) {
		st.LongestGap = max(st.LongestGap, to.Sub(last))
	}
	return st
}

func sortedByEnd(reads []ReadResult) []ReadResult {
	out := append([]ReadResult(nil), reads...)
	slices.SortFunc(out, func(a, b ReadResult) int { return a.End.Compare(b.End) })
	return out
}
