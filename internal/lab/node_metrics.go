package lab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// The peer channel's counters (internal/peer/metrics.go).
const (
	metricPeerDropped  = "vipkeeper_peer_dropped_total"  // by reason
	metricPeerReceived = "vipkeeper_peer_received_total" // accepted, by kind
)

// maxMetricsBody bounds one scrape of a daemon's /metrics.
const maxMetricsBody = 16 << 20

// Metrics GETs the daemon's /metrics (over the management network) and returns the text.
func (n *Node) Metrics(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.args.MetricsAddr+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("metrics of %s: %w", n.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("metrics of %s: %s", n.name, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetricsBody))
	if err != nil {
		return "", fmt.Errorf("metrics of %s: %w", n.name, err)
	}
	return string(b), nil
}

// counterBy sums the samples of metric name in the exposition text by the value of label;
// found is false when the text has no sample of name at all.
func counterBy(text, name, label string) (sums map[string]float64, found bool) {
	sums = map[string]float64{}
	for line := range strings.Lines(text) {
		n, labels, v, ok := parseSample(line)
		if ok && n == name {
			sums[labels[label]] += v
			found = true
		}
	}
	return sums, found
}

// keyDrops is how many peer datagrams a daemon dropped for a key it does not share.
func keyDrops(dropped map[string]float64) float64 {
	return dropped["bad_mac"] + dropped["unknown_key"]
}

// peerCounters are one daemon's peer channel counters.
type peerCounters struct {
	node     string
	keyDrops float64 // bad_mac + unknown_key
	accepted float64 // every kind
	found    bool    // the daemon exports the peer metrics
}

func readPeerCounters(ctx context.Context, n *Node) (peerCounters, error) {
	text, err := n.Metrics(ctx)
	if err != nil {
		return peerCounters{node: n.name}, err
	}
	dropped, found := counterBy(text, metricPeerDropped, "reason")
	received, _ := counterBy(text, metricPeerReceived, "kind")
	pc := peerCounters{node: n.name, keyDrops: keyDrops(dropped), found: found}
	for _, v := range received {
		pc.accepted += v
	}
	return pc, nil
}

// verifyWrongKey checks wrong-peer-key from the daemons' metrics: the node with the wrong
// key accepted no peer message and dropped its peers' for their key; each peer dropped
// some of its datagrams for theirs.
func verifyWrongKey(r *ScenarioRun, _ Result) []Check {
	if r.wrongKey == nil {
		return []Check{{Name: "wrong key", Detail: "no node was given the wrong key"}}
	}
	var wrong peerCounters
	var others []peerCounters
	for _, n := range r.Lab.Nodes() {
		if !n.Running() {
			continue
		}
		pc, err := readPeerCounters(r.ctx, n)
		if err != nil {
			return []Check{{Name: "peer metrics", Detail: err.Error()}}
		}
		if n == r.wrongKey {
			wrong = pc
		} else {
			others = append(others, pc)
		}
	}
	return wrongKeyChecks(wrong, others)
}

// wrongKeyChecks is verifyWrongKey's verdict on the counters read.
func wrongKeyChecks(wrong peerCounters, others []peerCounters) []Check {
	if !wrong.found {
		return []Check{{Name: "peer metrics", Detail: fmt.Sprintf("%s exports no %s", wrong.node, metricPeerDropped)}}
	}
	out := []Check{
		{Name: "is never vouched for", Pass: wrong.accepted == 0 && wrong.keyDrops > 0,
			Detail: fmt.Sprintf("%s accepted %.0f peer messages, dropped %.0f as bad_mac/unknown_key", wrong.node, wrong.accepted, wrong.keyDrops)},
	}
	pass, detail := len(others) > 0, []string{}
	for _, o := range others {
		pass = pass && o.keyDrops > 0
		detail = append(detail, fmt.Sprintf("%s dropped %.0f", o.node, o.keyDrops))
	}
	return append(out, Check{Name: "never vouches (its peers drop it)", Pass: pass,
		Detail: strings.Join(detail, ", ") + " as bad_mac/unknown_key"})
}
