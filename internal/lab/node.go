package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

// killWait bounds the wait for a SIGKILLed daemon to be reaped.
const killWait = 10 * time.Second

// ErrNotRunning is returned when a signal is sent to a node whose daemon is not running.
var ErrNotRunning = errors.New("daemon not running")

// ExitStatus is how one run of a node's daemon ended.
type ExitStatus struct {
	At     time.Time
	Code   int            // exit code; -1 when a signal ended it
	Signal syscall.Signal // the signal that ended it, or 0
}

func (s ExitStatus) String() string {
	if s.Signal != 0 {
		return "signal " + s.Signal.String()
	}
	return fmt.Sprintf("exit %d", s.Code)
}

// Node is one simulated node: a network namespace with eth0 on the data LAN and mgmt on
// the management network, and the daemon process that runs in it.
type Node struct {
	index   int
	name    string
	ns      string
	plan    plan
	args    DaemonArgs
	tmpl    string
	logPath string
	logger  func(msg string, args ...any)
	spare   bool // Config.Spare: started only by a scenario's steps

	mu     sync.Mutex
	proc   *proc
	last   *ExitStatus
	paused bool // SIGSTOP sent and no SIGCONT since
}

// proc is one run of the daemon.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once reaped; exit is valid then
	exit ExitStatus
}

// Name is the node's name: its Node object and its daemon's Lease holder identity.
func (n *Node) Name() string { return n.name }

// Index is the node's number, 1 for node-1.
func (n *Node) Index() int { return n.index }

// Namespace is the node's network namespace.
func (n *Node) Namespace() string { return n.ns }

// LogPath is the daemon's log file (all runs, appended).
func (n *Node) LogPath() string { return n.logPath }

// IPv4 is the node's address on the data LAN, 198.51.100.(10+index).
func (n *Node) IPv4() netip.Addr { return nodeIPv4(n.index) }

// IPv6 is the node's address on the data LAN, 2001:db8:1::(10+index).
func (n *Node) IPv6() netip.Addr { return nodeIPv6(n.index) }

// MgmtIP is the node's address on the management network (API traffic, /readyz).
func (n *Node) MgmtIP() netip.Addr { return n.plan.nodeMgmtIP(n.index) }

// MAC is the MAC of the node's eth0, by which the prober tells who answered.
func (n *Node) MAC() net.HardwareAddr {
	hw, _ := net.ParseMAC(dataMAC(n.index))
	return hw
}

// DaemonArgs are the values the node's daemon command is rendered with.
func (n *Node) DaemonArgs() DaemonArgs { return n.args }

func (n *Node) healthURL(p string) string { return "http://" + n.args.HealthAddr + p }

// Spare reports whether the node is one of Config.Spare: its daemon runs only when a
// scenario's steps start it.
func (n *Node) Spare() bool { return n.spare }

// Start starts the daemon: `ip netns exec <namespace> <rendered command>`, output appended
// to LogPath. It dies with the lab process (Pdeathsig).
func (n *Node) Start() error { return n.StartWith(n.args) }

// StartWith starts the daemon like Start, but this run with args instead of the node's own
// (a wrong peer key dir, say); later Starts use the node's own again.
func (n *Node) StartWith(a DaemonArgs) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.runningLocked() {
		return fmt.Errorf("start daemon on %s: already running", n.name)
	}
	args, err := renderCmd(n.tmpl, a)
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("log of %s: %w", n.name, err)
	}
	fmt.Fprintf(logf, "=== lab %s: start %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.ns}, args...)...)
	if n.ns == "" { // the controller role runs in the host namespace
		cmd = exec.Command(args[0], args[1:]...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := testenv.StartChild(cmd); err != nil {
		logf.Close()
		return fmt.Errorf("start daemon on %s: %w", n.name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	n.proc, n.paused = p, false
	go n.reap(p, logf)
	n.logger("daemon started", "node", n.name, "pid", cmd.Process.Pid)
	return nil
}

// reap waits for the process; it ends when the process does, which Close guarantees.
func (n *Node) reap(p *proc, logf *os.File) {
	err := p.cmd.Wait()
	st := ExitStatus{At: time.Now(), Code: p.cmd.ProcessState.ExitCode()}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		st.Signal = ws.Signal()
	}
	fmt.Fprintf(logf, "=== lab %s: %s (%v)\n", st.At.Format(time.RFC3339Nano), st, err)
	logf.Close()
	n.mu.Lock()
	p.exit = st
	n.last = &st
	n.mu.Unlock()
	close(p.done)
	n.logger("daemon exited", "node", n.name, "status", st.String())
}

func (n *Node) runningLocked() bool {
	if n.proc == nil {
		return false
	}
	select {
	case <-n.proc.done:
		return false
	default:
		return true
	}
}

// Running reports whether the daemon process exists (also while stopped by SIGSTOP).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.runningLocked()
}

// Pid is the daemon's pid, or 0 when it does not run.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		return 0
	}
	return n.proc.cmd.Process.Pid
}

// LastExit returns how the latest run ended; false if none has ended.
func (n *Node) LastExit() (ExitStatus, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.last == nil {
		return ExitStatus{}, false
	}
	return *n.last, true
}

// current returns the running process, or ErrNotRunning.
func (n *Node) current() (*proc, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		return nil, fmt.Errorf("%s: %w", n.name, ErrNotRunning)
	}
	return n.proc, nil
}

// Signal sends sig to the daemon (through a pidfd: never to a reused pid).
func (n *Node) Signal(sig syscall.Signal) error {
	p, err := n.current()
	if err != nil {
		return err
	}
	if err := p.cmd.Process.Signal(sig); errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("%s: %w", n.name, ErrNotRunning)
	} else if err != nil {
		return fmt.Errorf("signal %v to daemon on %s: %w", sig, n.name, err)
	}
	n.mu.Lock()
	switch sig {
	case syscall.SIGSTOP:
		n.paused = true
	case syscall.SIGCONT:
		n.paused = false
	}
	n.mu.Unlock()
	n.logger("daemon signalled", "node", n.name, "signal", sig.String())
	return nil
}

// State describes the daemon: "running", "paused", "exit 1", "signal killed" or "not started".
func (n *Node) State() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.runningLocked() && n.paused:
		return "paused"
	case n.runningLocked():
		return "running"
	case n.last != nil:
		return n.last.String()
	}
	return "not started"
}

// Pause freezes the daemon (SIGSTOP): its kernel addresses keep their lifetimes.
func (n *Node) Pause() error { return n.Signal(syscall.SIGSTOP) }

// Continue resumes a paused daemon (SIGCONT).
func (n *Node) Continue() error { return n.Signal(syscall.SIGCONT) }

// Wait waits until the running daemon exits, or ctx ends.
func (n *Node) Wait(ctx context.Context) (ExitStatus, error) {
	p, err := n.current()
	if err != nil {
		if st, ok := n.LastExit(); ok {
			return st, nil
		}
		return ExitStatus{}, err
	}
	select {
	case <-p.done:
		return p.exit, nil
	case <-ctx.Done():
		return ExitStatus{}, fmt.Errorf("wait for daemon on %s: %w", n.name, ctx.Err())
	}
}

// Kill ends the daemon with SIGKILL (no withdrawal, no release: a crash) and waits.
func (n *Node) Kill() (ExitStatus, error) {
	if err := n.Signal(syscall.SIGKILL); err != nil {
		return ExitStatus{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), killWait)
	defer cancel()
	return n.Wait(ctx)
}

// Terminate sends SIGTERM (and SIGCONT, in case it is paused) and waits until the daemon
// exits or ctx ends; a daemon still running then is left running.
func (n *Node) Terminate(ctx context.Context) (ExitStatus, error) {
	if err := n.Signal(syscall.SIGTERM); err != nil {
		return ExitStatus{}, err
	}
	_ = n.Signal(syscall.SIGCONT)
	return n.Wait(ctx)
}

// Restart terminates a running daemon (SIGKILL if it has not exited when ctx ends) and
// starts it again.
func (n *Node) Restart(ctx context.Context) error {
	if n.Running() {
		if _, err := n.Terminate(ctx); err != nil {
			if _, kerr := n.Kill(); kerr != nil && !errors.Is(kerr, ErrNotRunning) {
				return kerr
			}
		}
	}
	return n.Start()
}

// stop kills a running daemon; for Close.
func (n *Node) stop() {
	if _, err := n.Kill(); err != nil && !errors.Is(err, ErrNotRunning) {
		n.logger("daemon did not die", "node", n.name, "err", err)
	}
}

// Ready asks the daemon's /readyz once (over the management network).
func (n *Node) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.healthURL("/readyz"), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("readyz of %s: %w", n.name, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz of %s: %s", n.name, resp.Status)
	}
	return nil
}

// SetDataLink plugs (up) or pulls (down) the cable of the node's eth0: the bridge port on
// the data LAN goes down, so the node sees no carrier and the client sees nothing from it.
func (n *Node) SetDataLink(ctx context.Context, up bool) error {
	n.logger("data link", "node", n.name, "up", up)
	return setLink(ctx, n.plan.lanNS(), n.plan.lanPort(n.index), up)
}

// SetAPILink plugs or pulls the cable of the node's management interface: with it down
// the node cannot reach the API server (packets are dropped, connections hang until their
// timeouts), while its data LAN works on.
func (n *Node) SetAPILink(ctx context.Context, up bool) error {
	n.logger("api link", "node", n.name, "up", up)
	return setLink(ctx, "", n.plan.hostVeth(n.index), up)
}

// LogTail returns the last lines of the daemon's log file.
func (n *Node) LogTail(lines int) string {
	b, err := os.ReadFile(n.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}
