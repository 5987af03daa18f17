package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
)

// EtcdLeader returns the index of the member whose etcd is the raft leader, asking each
// member's /metrics (etcd_server_is_leader).
func (c *Cluster) EtcdLeader(ctx context.Context) (int, error) {
	client := c.httpClient()
	for i, m := range c.members {
		lead, err := isLeader(ctx, client, httpOn(m.reach(), EtcdClientPort)+"/metrics")
		if err == nil && lead {
			return i, nil
		}
	}
	return -1, fmt.Errorf("no etcd member says it leads")
}

func isLeader(ctx context.Context, client *http.Client, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		if line := s.Text(); strings.HasPrefix(line, "etcd_server_is_leader ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "etcd_server_is_leader ")) == "1", nil
		}
	}
	return false, s.Err()
}
