package blackbox

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
)

// table is one scenario's figures: per round, of the floor and of the
// bridge, printed as medians beside the bridge/floor ratio and the target.
type table struct {
	title   string
	metrics []*metric
	notes   []string
	// heads name the floor and bridge columns where they hold something
	// else; default "floor" and "bridge".
	heads [2]string
}

// metric is one figure's values, one per round; floor is empty where the
// scenario has no floor.
type metric struct {
	name          string
	floor, bridge []float64
	ratio         bool   // print the median of the rounds' bridge/floor
	target        string // the target, as text
	// slowestOf, when set, makes this figure the slowest round of that
	// one's bridge (table.slowest), not rounds of its own.
	slowestOf *metric
}

func (t *table) add(name string, ratio bool, target string) *metric {
	m := &metric{name: name, ratio: ratio, target: target}
	t.metrics = append(t.metrics, m)
	return m
}

// slowest adds the slowest of of's bridge rounds as a figure of its own,
// for a target that holds always: the median hides a slow round.
func (t *table) slowest(of *metric, target string) {
	t.metrics = append(t.metrics, &metric{name: "the slowest round (s)", target: target, slowestOf: of})
}

func (t *table) note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// put adds a round's value of kind, "floor" or "bridge".
func (m *metric) put(kind string, v float64) {
	if kind == "floor" {
		m.floor = append(m.floor, v)
	} else {
		m.bridge = append(m.bridge, v)
	}
}

// bridgeRounds returns the bridge's value of each round, or the slowest
// of slowestOf's.
func (m *metric) bridgeRounds() []float64 {
	if m.slowestOf == nil || len(m.slowestOf.bridge) == 0 {
		return m.bridge
	}
	return []float64{slices.Max(m.slowestOf.bridge)}
}

// ratios returns bridge/floor of each round.
func (m *metric) ratios() []float64 {
	var r []float64
	for i := range min(len(m.floor), len(m.bridge)) {
		r = append(r, m.bridge[i]/m.floor[i])
	}
	return r
}

// print writes the table: one line per metric with medians.
func (t *table) print(w io.Writer) {
	rounds := 0
	for _, m := range t.metrics {
		rounds = max(rounds, len(m.bridgeRounds()))
	}
	fmt.Fprintf(w, "\n== %s (medians of %d rounds)\n", t.title, rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	heads := t.heads
	if heads == [2]string{} {
		heads = [2]string{"floor", "bridge"}
	}
	fmt.Fprintf(tw, "figure\t%s\t%s\t%[2]s/%[1]s (range)\ttarget\n", heads[0], heads[1])
	for _, m := range t.metrics {
		f, r := "-", "-"
		if len(m.floor) > 0 {
			f = num(median(m.floor))
		}
		if rs := m.ratios(); m.ratio && len(rs) > 0 {
			r = fmt.Sprintf("%.2f (%.2f–%.2f)", median(rs), slices.Min(rs), slices.Max(rs))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.name, f, num(median(m.bridgeRounds())), r, m.target)
	}
	tw.Flush()
	for _, n := range t.notes {
		fmt.Fprintln(w, "  "+n)
	}
}

// report prints t to stdout and reports each ratio, and each bridge
// median, as a benchmark metric.
func (t *table) report(b *testing.B) {
	t.print(stdout)
	for _, m := range t.metrics {
		unit := strings.NewReplacer(" ", "-", "(", "", ")", "", ",", "").Replace(m.name)
		b.ReportMetric(median(m.bridgeRounds()), unit)
		if rs := m.ratios(); m.ratio && len(rs) > 0 {
			b.ReportMetric(median(rs), unit+"-ratio")
		}
	}
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
