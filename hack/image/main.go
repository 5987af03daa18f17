// Command image writes vipkeeper's container image without a container engine: an OCI
// image index with one image per platform, each holding only the static binary, as an OCI
// layout directory and an oci-archive tarball. `make image` runs it (see docs/install.md).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var o Options
	var platforms, push string
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.StringVar(&o.BinDir, "bin-dir", "bin", "holds <os>-<arch>/vipkeeper for every platform")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated os/arch list")
	fs.StringVar(&o.Version, "version", "dev", "image version (label org.opencontainers.image.version)")
	fs.StringVar(&o.Revision, "revision", "", "source revision (label org.opencontainers.image.revision)")
	fs.StringVar(&o.Layout, "layout", "bin/image", "OCI layout directory to write")
	fs.StringVar(&o.Archive, "archive", "bin/vipkeeper-image.tar", "oci-archive tarball to write (empty: none)")
	fs.StringVar(&push, "push", "", "also push the index to this reference (registry/repo:tag)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "image: unexpected arguments %q\n", fs.Args())
		return 2
	}
	o.Platforms = strings.Split(platforms, ",")
	idx, err := Build(o)
	if err == nil {
		err = Write(o, idx)
	}
	if err == nil && push != "" {
		err = Push(idx, push)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		return 1
	}
	fmt.Printf("image: %s (%s) and %s\n", o.Layout, platforms, o.Archive)
	return 0
}
