package poller

import (
	"testing"

	"github.com/gormic/crm-bridge/internal/crmsim"
)

// BenchmarkPollerMigrate measures the takeover of a poller upgraded on the
// former version's state of a million customers: the bucket
// crm_bridge_poller as a silent first start left it (chunks), and the
// entries of the customers BenchmarkPollerChanges changed when it ran
// first. Each run writes the state as the former version kept it
// (toLegacy, not timed), restarts the NATS server, and starts a poller,
// which migrates the state into StateStream, claims it and rebuilds its
// index before its first pass starts (takeover-s), then makes that pass,
// which finds nothing to publish. A second poller then takes over the
// migrated state, on a restarted server too, as after any restart
// (plain-takeover-s): the migration's cost is the difference.
func BenchmarkPollerMigrate(b *testing.B) {
	if testing.Short() {
		b.Skip("a million customers: not with -short")
	}
	w := sharedWorld(b, crmsim.PagingKeyset)
	var runs, plain []changesRun
	copied := 0
	for b.Loop() {
		chunks, entries, _ := toLegacy(b, w.nats.js)
		copied = chunks + entries
		for _, to := range []*[]changesRun{&runs, &plain} {
			w.nats.restart(b)
			before := w.nats.events(b)
			var r changesRun
			r.poller, r.pollerUse = runChild(b, "poller", benchArgs{CRM: w.sim.url, NATS: w.nats.url})
			r.natsMB = w.nats.proc.peakRSS()
			if got := w.nats.events(b) - before; got != 0 {
				b.Fatalf("%d events after the migration, want none", got)
			}
			*to = append(*to, r)
		}
	}
	takeover := func(r changesRun) float64 { return r.poller.PassStart }
	b.ReportMetric(medianBy(runs, takeover).poller.PassStart, "takeover-s")
	b.ReportMetric(medianBy(plain, takeover).poller.PassStart, "plain-takeover-s")
	b.ReportMetric(medianBy(runs, changesRun.pass).pass(), "pass-s")
	b.ReportMetric(float64(copied), "messages")
	b.ReportMetric(medianBy(runs, func(r changesRun) float64 { return r.pollerUse.rssMB }).pollerUse.rssMB, "rss-MB")
	b.ReportMetric(medianBy(runs, func(r changesRun) float64 { return r.natsMB }).natsMB, "nats-rss-MB")
}
