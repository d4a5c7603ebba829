package blackbox

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/proctest"
)

// changesScenario changes n customers of the CRM at once, rounds times,
// under bridge b right after its first start with initial events, and
// times the poll that finds them: from the start of its first export
// request (the bridge's debug line "crm request", its time less its
// duration) to the stored time of the last event (CRM_EVENTS's last
// time). A round in which a poll started while the changes were being
// made is done again (at most twice).
func changesScenario(tb testing.TB, b *proctest.Proc, js jetstream.JetStream, crmURL string, customers, n, rounds int) *table {
	tb.Helper()
	proctest.WaitFor(tb, b, 5*time.Minute, 50*time.Millisecond, "the first poll to be done", func() bool {
		return len(logLines(b, "poll done")) > 0
	})
	ids := customerIDs(tb, crmURL)
	client := crmClient(tb, crmURL)
	rng := rand.New(rand.NewPCG(3, uint64(customers)))
	t := &table{title: fmt.Sprintf("a poll finding %d changes among %d customers, right after a first start with initial events", n, customers)}
	fresh := t.add("first export request to last event stored (s)", false, "≤ 1 s")
	t.slowest(fresh, "≤ 1 s, always")
	for r := range rounds {
		for try := 0; ; try++ {
			secs, polls, ok := changeRound(tb, b, js, client, rng.Perm(len(ids))[:n], ids, fmt.Sprintf("R%dT%d", r, try))
			if ok {
				fresh.put("bridge", secs)
				t.note("round %d: %.2f s; %s", r+1, secs, polls)
				break
			}
			if try == 2 {
				tb.Fatalf("round %d: a poll ran during the changes three times", r)
			}
		}
	}
	return t
}

// changeRound changes the customers ids[i] for i in pick and returns the
// seconds from the first export request of the poll that published their
// events to the last event stored, and the "poll done" lines since; ok is
// false when that poll began before the changes were all made, or did not
// publish them all (a poll before it, or a complete export beside it, took
// some).
//
// The poll is the first whose "poll done" line counts events; its first
// export request is the first that began after both its start and the
// changes: a complete export may run beside the incremental polls (the one
// that follows a cursor that moved far, as right after a first start), and
// its page requests are not the poll's.
func changeRound(tb testing.TB, b *proctest.Proc, js jetstream.JetStream, client *crm.Client, pick []int, ids []string, name string) (float64, string, bool) {
	tb.Helper()
	before, err := eventsState(js)
	if err != nil {
		tb.Fatal(err)
	}
	// The changes begin right after a poll ends, an interval before the
	// next begins, so that they are most likely all made by then (they
	// take up to a second or two on a busy machine, right after a first
	// start).
	ended := strings.Count(b.Output.String(), `"msg":"poll done"`)
	proctest.WaitFor(tb, b, time.Minute, 2*time.Millisecond, "a poll to end", func() bool {
		return strings.Count(b.Output.String(), `"msg":"poll done"`) > ended
	})
	polls := len(logLines(b, "poll done"))
	changeAll(tb, client, pickIDs(ids, pick), name)
	changed := time.Now()
	mid, err := eventsState(js)
	if err != nil {
		tb.Fatal(err)
	}
	var st jetstream.StreamState
	proctest.WaitFor(tb, b, 2*time.Minute, 20*time.Millisecond, fmt.Sprintf("%d events", len(pick)), func() bool {
		st, err = eventsState(js)
		return err == nil && st.Msgs >= before.Msgs+uint64(len(pick))
	})
	if mid.Msgs > before.Msgs {
		return 0, "", false
	}
	var timed logLine
	var done []string
	proctest.WaitFor(tb, b, 2*time.Minute, 20*time.Millisecond, "the poll that published the events to be done", func() bool {
		done = done[:0]
		for _, l := range logLines(b, "poll done")[polls:] {
			done = append(done, fmt.Sprintf("%s poll: %d pages, %d records, %d events, took %s", l.Kind, l.Pages, l.Records, l.Events, l.Took))
			if l.Events > 0 {
				timed = l
				return true
			}
		}
		return false
	})
	start := pollStart(tb, timed)
	ok := !start.Before(changed) && timed.Events >= len(pick)
	// took is rounded to the millisecond: a request may seem to begin up
	// to one before its poll.
	from := start.Add(-time.Millisecond)
	if from.Before(changed) {
		from = changed
	}
	var first time.Time
	for _, l := range logLines(b, "crm request") {
		if l.Op != "export" {
			continue
		}
		d, err := time.ParseDuration(l.Duration)
		if err != nil {
			tb.Fatalf("crm request duration %q: %v", l.Duration, err)
		}
		if s := l.Time.Add(-d); !s.Before(from) && (first.IsZero() || s.Before(first)) {
			first = s
		}
	}
	if first.IsZero() {
		tb.Fatal("no export request of the poll after the changes in the bridge's log")
	}
	if n := len(logLines(b, "the cursor moved far in one poll; the next poll reads the complete export, in case a page shifted")); n > 0 {
		done = append(done, fmt.Sprintf("complete exports after a far move of the cursor so far: %d", n))
	}
	return st.LastTime.Sub(first).Seconds(), strings.Join(done, "; "), ok
}

// changeAll sets the first name of each customer of ids to name and its
// id, through the CRM's API, 16 updates at a time.
func changeAll(tb testing.TB, client *crm.Client, ids []string, name string) {
	tb.Helper()
	work := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for id := range work {
				first := name + strings.ReplaceAll(id, "_", "")
				if err := client.Update(context.Background(), id, crm.UpdateParams{FirstName: &first}); err != nil {
					tb.Error(err)
				}
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
}

// pickIDs returns ids[i] for each i of pick.
func pickIDs(ids []string, pick []int) []string {
	out := make([]string, len(pick))
	for j, i := range pick {
		out[j] = ids[i]
	}
	return out
}

// logLine is what the benchmarks read of one of the bridge's JSON log lines.
type logLine struct {
	Time     time.Time `json:"time"`
	Msg      string    `json:"msg"`
	Op       string    `json:"op"`
	Duration string    `json:"duration"` // as time.Duration's String
	Kind     string    `json:"kind"`
	Pages    int       `json:"pages"`
	Records  int       `json:"records"`
	Events   int       `json:"events"`
	Took     string    `json:"took"`
	Entries  int       `json:"entries"`  // the migration's
	Messages int       `json:"messages"` // the migration's
}

// pollStart is when the poll of a "poll done" line began: its time less
// took (to the millisecond).
func pollStart(tb testing.TB, l logLine) time.Time {
	tb.Helper()
	took, err := time.ParseDuration(l.Took)
	if err != nil {
		tb.Fatalf("poll done took %q: %v", l.Took, err)
	}
	return l.Time.Add(-took)
}

// logLines returns b's log lines with msg, in order.
func logLines(b *proctest.Proc, msg string) []logLine {
	var out []logLine
	for line := range strings.Lines(b.Output.String()) {
		if !strings.Contains(line, `"msg":"`+msg+`"`) {
			continue
		}
		var l logLine
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == msg {
			out = append(out, l)
		}
	}
	return out
}
