package inspect

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Formats of Print.
const (
	FormatTable = ""
	FormatWide  = "wide"
	FormatJSON  = "json"
)

// Print writes rows in format, with ages relative to now.
func Print(w io.Writer, rows []Row, format string, now time.Time) error {
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			VIPs []Row `json:"vips"`
		}{rows})
	case FormatTable, FormatWide:
		return table(w, rows, format == FormatWide, now)
	}
	return fmt.Errorf("output format %q: want wide or json", format)
}

func table(w io.Writer, rows []Row, wide bool, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "VIP\tSERVICES\tHOLDER\tRENEWED\tCANDIDATES\tTRANSITION"
	if wide {
		head += "\tPOLICY\tPOOL\tLEASE"
	}
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		line := strings.Join([]string{r.VIP.String(), services(r, wide), or(r.Holder, "<none>"),
			renewed(r, now, wide), candidates(r, wide), transition(r, now)}, "\t")
		if wide {
			line += "\t" + or(r.Policy, "-") + "\t" + pool(r) + "\t" + r.Lease
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

func services(r Row, wide bool) string {
	switch {
	case len(r.Services) == 0:
		return "<not wanted>"
	case wide || len(r.Services) == 1:
		return strings.Join(r.Services, ",")
	}
	return fmt.Sprintf("%s,+%d", r.Services[0], len(r.Services)-1)
}

func renewed(r Row, now time.Time, wide bool) string {
	if r.LastRenew == nil {
		return "-"
	}
	s := age(now, *r.LastRenew) + " ago"
	if wide {
		s += " (" + r.RenewFrom + ")"
	}
	return s
}

func candidates(r Row, wide bool) string {
	switch {
	case len(r.Candidates) == 0 && r.NoCandidate != "":
		return "0 (" + r.NoCandidate + ")"
	case wide:
		return fmt.Sprintf("%d (%s)", len(r.Candidates), strings.Join(r.Candidates, ","))
	}
	return fmt.Sprint(len(r.Candidates))
}

// pool is the VIP's pool and its interfaces: "lan-b (eth1,bond*)", "-" for none.
func pool(r Row) string {
	if len(r.Interfaces) == 0 {
		return or(r.Pool, "-")
	}
	return r.Pool + " (" + strings.Join(r.Interfaces, ",") + ")"
}

func transition(r Row, now time.Time) string {
	if r.LastTransition == nil {
		return "-"
	}
	s := age(now, *r.LastTransition) + " ago"
	if r.TransitionReason != "" {
		s += " (" + r.TransitionReason + ")"
	}
	return s
}

// age is a kubectl-style short duration: 45s, 3m12s, 5h3m, 2d4h.
func age(now, t time.Time) string {
	d := max(now.Sub(t), 0).Truncate(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
