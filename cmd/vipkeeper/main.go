// Command vipkeeper announces the virtual IPs of LoadBalancer Services from exactly one
// node each. One binary, several roles chosen by subcommand (see README.md and
// docs/install.md):
//
//	vipkeeper agent        the DaemonSet: elections, data plane, this node's Events
//	vipkeeper controller   the Deployment: allocator, Service status, cluster Events (one leader)
//	vipkeeper status       one line per VIP, from the API (also `kubectl vipkeeper`)
//	vipkeeper version      the version stamped at build time (also --version)
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// command is one subcommand. run gets the arguments after the subcommand's name and
// returns the exit code (2: usage error).
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands is the dispatch table; a subcommand in its own file adds itself with one line:
//
//	func init() { register(command{"name", "what it does", runName}) }
var commands []command

func register(c command) { commands = append(commands, c) }

func init() {
	register(command{"agent", "run on every node (DaemonSet): elections, data plane, per-node Events", runAgent})
	register(command{"controller", "run the cluster writer (Deployment): allocator, Service status, cluster Events", runController})
	register(command{"status", "print one line per VIP: Services, holder, last renew, candidates, last transition", runStatus})
	register(command{"version", "print the version", runVersion})
}

func main() {
	os.Exit(run(os.Args[0], os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches on the first argument. Installed as kubectl-vipkeeper, the binary is
// `kubectl vipkeeper` and runs status unless a subcommand is named.
func run(argv0 string, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		return runVersion(args[1:], stdout, stderr)
	}
	if strings.HasPrefix(filepath.Base(argv0), "kubectl-") && (len(args) == 0 || lookup(args[0]) == nil) {
		return runStatus(args, stdout, stderr)
	}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "vipkeeper: unknown subcommand %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func lookup(name string) *command {
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == name })
	if i < 0 {
		return nil
	}
	return &commands[i]
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vipkeeper <subcommand> [flags]\n\nsubcommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\n`vipkeeper <subcommand> --help` lists its flags; every flag has an environment variable\n(--lease-duration is VIPKEEPER_LEASE_DURATION). `vipkeeper --version` prints the version.")
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "vipkeeper version: unexpected arguments %q\nusage: vipkeeper version (or vipkeeper --version)\n", args)
		return 2
	}
	fmt.Fprintln(stdout, "vipkeeper", version)
	return 0
}
