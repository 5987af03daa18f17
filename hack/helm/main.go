// Command helm renders and lints charts/vipkeeper with the Helm Go library (no helm binary
// needed): `make manifests` writes deploy/ from the chart, and this module's test fails when
// deploy/ differs from what the chart renders.
//
//	go run . lint     [--chart DIR]
//	go run . template [--chart DIR] [--out DIR]
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) == 0 || (args[0] != "lint" && args[0] != "template") {
		fmt.Fprintln(os.Stderr, "usage: helm lint|template [--chart DIR] [--out DIR]")
		return 2
	}
	fs := flag.NewFlagSet("helm "+args[0], flag.ContinueOnError)
	chart := fs.String("chart", "../../charts/vipkeeper", "chart directory")
	out := fs.String("out", "../../deploy", "directory the rendered manifests are written to")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "helm: unexpected arguments %q\n", fs.Args())
		return 2
	}
	var err error
	switch args[0] {
	case "lint":
		err = Lint(*chart)
	case "template":
		err = WriteManifests(*chart, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helm:", err)
		return 1
	}
	return 0
}
