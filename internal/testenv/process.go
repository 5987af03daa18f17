package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// process is one child (etcd or kube-apiserver) with its output in a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the child has been reaped
	waitErr error         // valid after done
}

// startProcess starts bin in its own process group; it dies with the test binary
// (StartChild).
func startProcess(name, bin, logPath string, args []string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := StartChild(cmd); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go p.reap(logf)
	return p, nil
}

// reap waits for the child; it ends when the child exits, which kill guarantees.
func (p *process) reap(logf *os.File) {
	p.waitErr = p.cmd.Wait()
	logf.Close()
	close(p.done)
}

// kill sends SIGKILL to the child's whole process group and waits until it is reaped.
func (p *process) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// pgid is the child's process group id (== its pid, because of Setpgid).
func (p *process) pgid() int { return p.cmd.Process.Pid }

// tail returns the last lines of the child's log, for error messages.
func (p *process) tail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const maxLines = 25
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// failure wraps err with the state and log tail of the child.
func (p *process) failure(err error) error {
	state := "running"
	select {
	case <-p.done:
		state = fmt.Sprintf("exited (%v)", p.waitErr)
	default:
	}
	return fmt.Errorf("%s %s: %w; last log lines:\n%s", p.name, state, err, p.tail())
}

// portClash reports whether the child died because its port was taken meanwhile.
func (p *process) portClash() bool {
	select {
	case <-p.done:
		return strings.Contains(p.tail(), "address already in use")
	default:
		return false
	}
}

// waitHealthy polls url (GET, 200 means healthy) every 100ms until ctx ends or the child exits.
func (p *process) waitHealthy(ctx context.Context, client *http.Client, url, token string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := fmt.Errorf("no answer yet")
	for {
		if last = probe(ctx, client, url, token); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return p.failure(fmt.Errorf("exited before %s was healthy: %w", url, last))
		case <-ctx.Done():
			return p.failure(fmt.Errorf("not healthy at %s: %w (last: %w)", url, ctx.Err(), last))
		case <-tick.C:
		}
	}
}

func probe(ctx context.Context, client *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// freePort asks the kernel for a free port on host. Another process may take it before our
// child binds it; callers retry on portClash.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
