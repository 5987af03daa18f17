package lab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

const (
	// scrapeTimeout bounds one GET of kube-apiserver's /metrics.
	scrapeTimeout = 10 * time.Second
	// userHZ is the unit of utime and stime in /proc/<pid>/stat: USER_HZ, 100 on Linux.
	userHZ = 100
	// maxMetricLine bounds one line of the exposition format.
	maxMetricLine = 1 << 20
)

// scrapeLeaseRequests reads kube-apiserver's own /metrics with the admin client and returns
// apiserver_request_total for resource=leases, summed by verb.
func scrapeLeaseRequests(ctx context.Context, l *Lab) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	raw, err := l.Admin().CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("scrape kube-apiserver /metrics: %w", err)
	}
	return ParseLeaseRequests(strings.NewReader(string(raw)))
}

// ParseLeaseRequests reads the Prometheus text exposition format and sums
// apiserver_request_total samples with resource="leases" by their verb label.
func ParseLeaseRequests(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxMetricLine)
	for sc.Scan() {
		name, labels, value, ok := parseSample(sc.Text())
		if !ok || name != "apiserver_request_total" || labels["resource"] != "leases" {
			continue
		}
		out[labels["verb"]] += value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return out, nil
}

// parseSample splits one sample line `name{k="v",...} value [timestamp]`; ok is false for
// comments, blank lines and lines that do not parse.
func parseSample(line string) (name string, labels map[string]string, value float64, ok bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	rest := line
	if i := strings.IndexAny(line, "{ "); i > 0 {
		name, rest = line[:i], line[i:]
	} else {
		return "", nil, 0, false
	}
	labels = map[string]string{}
	if strings.HasPrefix(rest, "{") {
		var good bool
		if labels, rest, good = parseLabels(rest[1:]); !good {
			return "", nil, 0, false
		}
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return name, labels, v, err == nil
}

// parseLabels parses `k="v",k2="v2"}` (after the opening brace) with the format's escapes
// (\\, \", \n) and returns what follows the closing brace.
func parseLabels(s string) (map[string]string, string, bool) {
	labels := map[string]string{}
	for range len(s) + 1 { // every label consumes at least one byte
		s = strings.TrimLeft(s, " ,")
		if strings.HasPrefix(s, "}") {
			return labels, s[1:], true
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || len(s) < eq+2 || s[eq+1] != '"' {
			return nil, "", false
		}
		key := strings.TrimSpace(s[:eq])
		val, n, ok := unquote(s[eq+2:])
		if !ok {
			return nil, "", false
		}
		labels[key] = val
		s = s[eq+2+n:]
	}
	return nil, "", false
}

// unquote reads an escaped label value up to its closing quote and returns the value and
// the bytes consumed (quote included).
func unquote(s string) (string, int, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return b.String(), i + 1, true
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] == 'n' {
				b.WriteByte('\n')
			} else {
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, false
}

// ProcSample is one reading of a process's memory and CPU time.
type ProcSample struct {
	At       time.Time
	RSSBytes int64
	CPU      time.Duration // utime + stime
}

// ReadProc reads /proc/<pid>/status (VmRSS) and /proc/<pid>/stat (utime, stime).
func ReadProc(pid int) (ProcSample, error) {
	s := ProcSample{At: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	if s.RSSBytes, err = ParseVmRSS(string(status)); err != nil {
		return s, fmt.Errorf("pid %d: %w", pid, err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	s.CPU, err = ParseStatCPU(string(stat))
	if err != nil {
		return s, fmt.Errorf("pid %d: %w", pid, err)
	}
	return s, nil
}

// ParseVmRSS returns VmRSS of a /proc/<pid>/status text, in bytes.
func ParseVmRSS(status string) (int64, error) {
	for line := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("VmRSS line %q", strings.TrimSpace(line))
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// ParseStatCPU returns utime + stime (fields 14 and 15) of a /proc/<pid>/stat text.
func ParseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return 0, fmt.Errorf("stat: no command name")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields", len(f)+2)
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: %w", err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// CPUPercent is the CPU the process used between two samples, in percent of one core.
func CPUPercent(a, b ProcSample) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(b.CPU-a.CPU) / float64(wall)
}
