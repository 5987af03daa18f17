package lab

import (
	"fmt"
	"slices"
	"strings"
)

// markdown renders the report: one table per timing preset, the scale table, the plots.
func markdown(rep *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# vipkeeper chaos benchmark\n\n")
	fmt.Fprintf(&b, "- started %s, finished %s\n", rep.Started.Format("2006-01-02 15:04:05 MST"), rep.Finished.Format("15:04:05"))
	fmt.Fprintf(&b, "- command: `%s`\n- machine: %s\n- daemon command: `%s`\n", rep.Command, rep.Machine, rep.DaemonCmd)
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	var timings []string
	for _, r := range rep.Results {
		if !slices.Contains(timings, r.Timing) {
			timings = append(timings, r.Timing)
		}
	}
	for _, t := range timings {
		fmt.Fprintf(&b, "\n## Scenarios, %s timing\n\n", t)
		resultTable(&b, rep.Results, t)
		checkList(&b, rep.Results, t)
	}
	if len(rep.Scale) > 0 {
		b.WriteString("\n## Scale\n\n")
		scaleTable(&b, rep.Scale)
		powerOffTable(&b, rep.Scale)
	}
	plots(&b, rep.Results)
	return b.String()
}

func resultTable(b *strings.Builder, rows []Result, timing string) {
	b.WriteString("| scenario | longest outage ms | split-brain ms (rounds) | holder changes | settled after fault ms | lease writes/s | lease GETs/s | lease LISTs/s | target | error |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range rows {
		if r.Timing != timing {
			continue
		}
		fmt.Fprintf(b, "| %s | %d | %d (%d) | %d | %s | %.1f | %.2f | %.1f | %s | %s |\n",
			r.Scenario, r.LongestOutageMs, r.SplitBrainMs, r.SplitRounds, r.HolderChanges, optMs(r.TimeToHealthyMs),
			r.LeaseWritesPerS, r.LeaseGetsPerS, r.LeaseRequests["LIST"], mdCell(r.Target), mdCell(r.Error))
	}
}

// checkList lists the verdicts of the scenarios with checks (Scenario.Verify).
func checkList(b *strings.Builder, rows []Result, timing string) {
	first := true
	for _, r := range rows {
		if r.Timing != timing || len(r.Checks) == 0 {
			continue
		}
		if first {
			b.WriteString("\nChecks:\n\n")
			first = false
		}
		for _, c := range r.Checks {
			verdict := "FAIL"
			if c.Pass {
				verdict = "pass"
			}
			fmt.Fprintf(b, "- %s: **%s** %s: %s\n", r.Scenario, verdict, c.Name, mdCell(c.Detail))
		}
	}
}

func scaleTable(b *strings.Builder, rows []ScaleResult) {
	b.WriteString("| nodes | VIPs | created in s | all answered after last create ms | answered | lease writes/s | lease GETs/s | RSS MiB (node-1 / max) | CPU % of a core (node-1 / max) | split-brain VIPs | steady: dark VIPs (VIP-s) | error |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, s := range rows {
		fmt.Fprintf(b, "| %d | %d | %.1f | %s | %d/%d | %.1f | %.2f | %.1f / %.1f | %.1f / %.1f | %d | %d (%.1f) | %s |\n",
			s.Nodes, s.VIPs, s.CreateSeconds, optMs(s.AllAnsweredMs), s.Answered, s.VIPs, s.LeaseWritesPerS,
			s.LeaseGetsPerS, s.RSSMiB, s.MaxRSSMiB, s.CPUPercent, s.MaxCPUPercent, s.SplitVIPs,
			s.SteadyDarkVIPs, s.SteadyDarkS, mdCell(s.Error))
	}
	for _, s := range rows {
		if len(s.Unanswered) > 0 {
			fmt.Fprintf(b, "\n%d nodes, %d VIPs: first unanswered VIPs:\n\n", s.Nodes, s.VIPs)
			for _, u := range s.Unanswered {
				fmt.Fprintf(b, "- `%s`\n", u)
			}
		}
	}
}

// powerOffTable lists the power-off steps of the scale runs, if any.
func powerOffTable(b *strings.Builder, rows []ScaleResult) {
	first := true
	for _, s := range rows {
		p := s.PowerOff
		if p == nil {
			continue
		}
		if first {
			b.WriteString("\n### Power-off of the node answering the most VIPs\n\n")
			b.WriteString("| nodes | VIPs | node | its VIPs | all answered elsewhere after power-off ms | answered elsewhere | split-brain VIPs (until 10 s after revival) | error |\n")
			b.WriteString("|---:|---:|---|---:|---:|---:|---:|---|\n")
			first = false
		}
		fmt.Fprintf(b, "| %d | %d | %s | %d | %s | %d/%d | %d | %s |\n", s.Nodes, s.VIPs, p.Node, p.VIPs,
			optMs(p.AllElsewhereMs), p.AnsweredElse, p.VIPs, p.SplitVIPs, mdCell(p.Error))
	}
}

func plots(b *strings.Builder, rows []Result) {
	first := true
	for _, r := range rows {
		if r.SVG == "" {
			continue
		}
		if first {
			b.WriteString("\n## Timelines\n\nLanes: who answered ARP for the VIP (per node), nobody (dark), two or more (split), the Lease holder read from the API; grey: fault windows; dashed: steps.\n")
			first = false
		}
		fmt.Fprintf(b, "\n### %s, %s timing\n\n%s\n\n![%s](%s)\n", r.Scenario, r.Timing, r.Summary, r.Scenario, r.SVG)
	}
}

func optMs(v *int64) string {
	if v == nil {
		return "never"
	}
	return fmt.Sprint(*v)
}

// mdCell keeps a value on one table line.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
