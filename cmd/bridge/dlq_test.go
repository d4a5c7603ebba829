package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/deadletter"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/schemas"
)

// dlqOK runs the bridge and fails the test unless it succeeds.
func dlqOK(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := cli(t, vars, "", args...)
	if err != nil {
		t.Fatalf("bridge %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr
}

// dlqLetter is a dead letter as internal/commands writes one (see
// deadletter.Message): the command's headers and body, Nats-Msg-Id
// dlq-<command id>, Command-Id, Dlq-Status, Dlq-Reason, Original-Subject.
type dlqLetter struct {
	op, id, status, reason, original string
	body                             []byte
	header                           nats.Header // the command's own headers
}

func (l dlqLetter) msg() *nats.Msg {
	m := nats.NewMsg(streams.Subjects{Prefix: "crm"}.DLQ(l.op))
	for k, v := range l.header {
		m.Header[k] = v
	}
	m.Header.Set(nats.MsgIdHdr, "dlq-"+l.id)
	m.Header.Set(commands.HeaderCommandID, l.id)
	m.Header.Set(commands.HeaderDlqStatus, l.status)
	m.Header.Set(commands.HeaderDlqReason, l.reason)
	m.Header.Set(commands.HeaderOriginalSubject, l.original)
	m.Data = l.body
	return m
}

// storeLetters stores dead letters and returns their stream sequences.
func storeLetters(t *testing.T, js jetstream.JetStream, letters ...dlqLetter) []uint64 {
	t.Helper()
	futs := make([]jetstream.PubAckFuture, len(letters))
	for i, l := range letters {
		f, err := js.PublishMsgAsync(l.msg(), jetstream.WithExpectStream(streams.DLQ))
		if err != nil {
			t.Fatal(err)
		}
		futs[i] = f
	}
	seqs := make([]uint64, len(letters))
	for i, f := range futs {
		select {
		case ack := <-f.Ok():
			seqs[i] = ack.Sequence
		case err := <-f.Err():
			t.Fatal(err)
		case <-time.After(30 * time.Second):
			t.Fatal("dead letter not stored")
		}
	}
	return seqs
}

// commandsByID returns the commands CRM_COMMANDS holds, by Nats-Msg-Id, in
// order; every id must be there once.
func commandsByID(t *testing.T, js jetstream.JetStream) (map[string]jetstream.Msg, []string) {
	t.Helper()
	byID := map[string]jetstream.Msg{}
	var order []string
	for _, m := range natstest.Messages(t, js, streams.Commands, "crm.customer.>") {
		id := m.Headers().Get(nats.MsgIdHdr)
		if _, dup := byID[id]; dup {
			t.Errorf("command %s stored twice", id)
		}
		byID[id] = m
		order = append(order, id)
	}
	return byID, order
}

// dlqSeqs returns the stream sequences of the dead letters, by command id,
// each checked against dlq-headers.schema.json.
func dlqSeqs(t *testing.T, js jetstream.JetStream) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, m := range natstest.Messages(t, js, streams.DLQ, "crm.customer.dlq.*") {
		if err := schemas.ValidateDeadLetter(m.Headers()); err != nil {
			t.Errorf("dead letter %s: got %v, want its headers valid", m.Subject(), err)
		}
		meta, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		out[m.Headers().Get(commands.HeaderCommandID)] = meta.Sequence.Stream
	}
	return out
}

func dlqCount(js jetstream.JetStream) int {
	return natstest.Count(js, streams.DLQ, "crm.customer.dlq.*")
}

// Dead letters made by the real bridge against the simulator: listed
// with their reasons, replayed by sequence and by command id as new
// commands that the bridge then applies or dead-letters again, each
// replay numbered after the ones before.
func TestDLQListAndReplayThroughBridge(t *testing.T) {
	w := newWorld(t)
	w.sim.ForceError(crmsim.OpCreate, "COMPACT_INACTIVE", 1)
	startProgram(t, w.env(), "run")
	w.waitConsumers()
	vars := map[string]string{"BRIDGE_NATS_URL": w.srv.ClientURL()}

	forced := []byte(`{"firstName":"Ada","phone":"5550100"}`)
	invalid := []byte(`{"firstName":"Ada"}`)
	update := []byte(`{"lastName":"Byron"}`)
	publish := func(subject, id string, body []byte, h nats.Header) {
		t.Helper()
		m := nats.NewMsg(subject)
		for k, v := range h {
			m.Header[k] = v
		}
		m.Header.Set(nats.MsgIdHdr, id)
		m.Data = body
		n := dlqCount(w.js)
		if _, err := w.js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		eventually.True(t, 30*time.Second, "no dead letter of "+id, func() bool { return dlqCount(w.js) == n+1 })
	}
	publish(w.subj.Create(), "c-forced", forced, nats.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})
	publish(w.subj.Create(), "c-invalid", invalid, nil)
	publish(w.subj.Update("cus_missing"), "u-missing", update, nil)
	seqs := dlqSeqs(t, w.js)

	checkDLQList(t, vars, seqs, forced, update)

	// By sequence: the forced error is gone, so the replay is applied.
	out, _ := dlqOK(t, vars, "dlq", "replay", strconv.FormatUint(seqs["c-forced"], 10))
	if want := "command c-forced: replayed as c-forced-replay-1 to crm.customer.create\n"; !strings.Contains(out, want) {
		t.Errorf("dlq replay: got\n%s\nwant %q", out, want)
	}
	eventually.True(t, 30*time.Second, "no result of c-forced-replay-1", func() bool { return w.resultCount() == 4 })
	if r := w.results()["c-forced-replay-1"]; r.Status != commands.StatusApplied || r.CustomerID == "" {
		t.Errorf("replay of c-forced: got %+v, want applied", r)
	}
	cmds, _ := commandsByID(t, w.js)
	m := cmds["c-forced-replay-1"]
	if m == nil || m.Headers().Get(commands.HeaderReplayOf) != "c-forced" || m.Subject() != "crm.customer.create" || string(m.Data()) != string(forced) ||
		m.Headers().Get("traceparent") == "" || m.Headers().Get(commands.HeaderDlqReason) != "" || m.Headers().Get(commands.HeaderCommandID) != "" {
		t.Errorf("stored replay of c-forced: got %v", m)
	}
	left := dlqSeqs(t, w.js)
	if _, ok := left["c-forced"]; ok || left["c-invalid"] != seqs["c-invalid"] || left["u-missing"] != seqs["u-missing"] {
		t.Errorf("dead letters after replaying c-forced: got %v", left)
	}

	// By command id, twice: rejected again each time, numbered on.
	for n := 1; n <= 2; n++ {
		sel := "u-missing"
		if n > 1 {
			sel = fmt.Sprintf("u-missing-replay-%d", n-1)
		}
		id := fmt.Sprintf("u-missing-replay-%d", n)
		out, _ = dlqOK(t, vars, "dlq", "replay", sel)
		if want := "command " + sel + ": replayed as " + id + " to crm.customer.update.cus_missing\n"; !strings.Contains(out, want) {
			t.Errorf("dlq replay %s: got\n%s\nwant %q", sel, out, want)
		}
		eventually.True(t, 30*time.Second, "no dead letter of "+id, func() bool { return dlqCount(w.js) == 2 })
		if dlqSeqs(t, w.js)[id] == 0 {
			t.Errorf("no dead letter of %s", id)
		}
		cmds, _ := commandsByID(t, w.js)
		if m := cmds[id]; m == nil || m.Headers().Get(commands.HeaderReplayOf) != "u-missing" || streams.Published(m.Subject()) != "crm.customer.update.cus_missing" {
			t.Errorf("stored %s: got %v", id, m)
		}
		if _, ok := dlqSeqs(t, w.js)[sel]; ok {
			t.Errorf("dead letter of %s not removed", sel)
		}
	}
	out, _ = dlqOK(t, vars, "dlq", "list", "--json", "--op", "update")
	if !strings.Contains(out, `"commandId":"u-missing-replay-2"`) || !strings.Contains(out, `"replayOf":"u-missing"`) {
		t.Errorf("dlq list after replays: got\n%s", out)
	}
}

// checkDLQList checks bridge dlq list, as a table and as JSON, against
// the three dead letters of TestDLQListAndReplayThroughBridge.
func checkDLQList(t *testing.T, vars map[string]string, seqs map[string]uint64, forced, update []byte) {
	t.Helper()
	out, _ := dlqOK(t, vars, "dlq", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "SEQ ") {
		t.Fatalf("dlq list: got\n%s\nwant a header and 3 lines", out)
	}
	for i, want := range [][]string{
		{strconv.FormatUint(seqs["c-forced"], 10), " create ", " c-forced ", " - ", " rejected ", "COMPACT_INACTIVE: "},
		{strconv.FormatUint(seqs["c-invalid"], 10), " create ", " c-invalid ", " rejected ", "VALIDATION: "},
		{strconv.FormatUint(seqs["u-missing"], 10), " update ", " u-missing ", " cus_missing ", " rejected ", "NotFound: "},
	} {
		for _, s := range want {
			if !strings.Contains(lines[i+1], s) || !strings.HasPrefix(lines[i+1], want[0]+" ") {
				t.Errorf("dlq list line %d: got %q, want it to hold %q", i+1, lines[i+1], s)
			}
		}
	}

	out, _ = dlqOK(t, vars, "dlq", "list", "--json")
	var recs []deadletter.Record
	for line := range strings.Lines(out) {
		var r deadletter.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("dlq list --json: %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 3 {
		t.Fatalf("dlq list --json: got %d records, want 3:\n%s", len(recs), out)
	}
	if r := recs[2]; r.Seq != seqs["u-missing"] || r.Op != "update" || r.CommandID != "u-missing" || r.CustomerID != "cus_missing" ||
		r.Status != "rejected" || !strings.HasPrefix(r.Reason, "NotFound: ") || r.OriginalSubject != "crm.customer.update.cus_missing" ||
		r.Body == nil || *r.Body != string(update) || r.Time.IsZero() {
		t.Errorf("dlq list --json: got %+v for u-missing", r)
	}
	if r := recs[0]; r.Headers["traceparent"] == nil || r.Body == nil || *r.Body != string(forced) {
		t.Errorf("dlq list --json: got %+v for c-forced, want its traceparent (written lower-case, whatever the command's spelling) and body", r)
	}

	out, _ = dlqOK(t, vars, "dlq", "list", "--op", "update")
	if n := strings.Count(out, "\n"); n != 2 || !strings.Contains(out, "u-missing") {
		t.Errorf("dlq list --op update: got\n%s", out)
	}
	out, _ = dlqOK(t, vars, "dlq", "list", "--limit", "1")
	if !strings.Contains(out, "c-forced") || strings.Contains(out, "c-invalid") || !strings.Contains(out, "(1 of 3 dead letters shown)") {
		t.Errorf("dlq list --limit 1: got\n%s", out)
	}
}

// --all replays every dead letter in order, to its original subject, with
// the command's own headers but not the dead letter's or the original
// publish's Nats-* ones; --dry-run changes nothing.
func TestDLQReplayAll(t *testing.T) {
	vars, js := clientStreams(t, embedded.Options{})
	s := streams.Subjects{Prefix: "crm"}
	letters := []dlqLetter{
		{op: "create", id: "a", status: "rejected", reason: "VALIDATION: phone is required", original: s.Create(), body: []byte(`{"firstName":"A"}`),
			header: nats.Header{"Reply-To": {"_INBOX.gone"}, "Nats-Expected-Stream": {"CRM_COMMANDS"}}},
		{op: "update", id: "b", status: "failed", reason: "CRM_UNAVAILABLE: connection refused", original: s.Update("a.b"), body: []byte(`{"number":"1"}`)},
		{op: "delete", id: "1042", status: "rejected", reason: "NotFound: no such customer", original: s.Delete("cus_9")},
	}
	seqs := storeLetters(t, js, letters...)

	out, _ := dlqOK(t, vars, "dlq", "replay", "--all", "--dry-run")
	for _, want := range []string{
		fmt.Sprintf("seq %d command a: would be replayed as a-replay-1 to crm.customer.create\n", seqs[0]),
		fmt.Sprintf("seq %d command b: would be replayed as b-replay-1 to crm.customer.update.a%%2Eb\n", seqs[1]),
		fmt.Sprintf("seq %d command 1042: would be replayed as 1042-replay-1 to crm.customer.delete.cus_9\n", seqs[2]),
		"dlq replay: 3 dead letters: 3 would be replayed, 0 would be removed as replayed already, 0 cannot be replayed (dry run: nothing changed)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run: got\n%s\nwant %q", out, want)
		}
	}
	if n, _ := commandsByID(t, js); len(n) != 0 || dlqCount(js) != 3 {
		t.Fatalf("dry run changed something: %d commands, %d dead letters", len(n), dlqCount(js))
	}

	out, _ = dlqOK(t, vars, "dlq", "replay", "--all")
	if !strings.Contains(out, "dlq replay: 3 dead letters: 3 replayed, 0 removed as replayed already, 0 failed; ") {
		t.Errorf("replay --all: got\n%s", out)
	}
	cmds, order := commandsByID(t, js)
	if want := []string{"a-replay-1", "b-replay-1", "1042-replay-1"}; strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("stored commands: got %v, want %v", order, want)
	}
	for i, l := range letters {
		m := cmds[l.id+"-replay-1"]
		if m == nil {
			continue
		}
		h := m.Headers()
		if streams.Published(m.Subject()) != l.original || string(m.Data()) != string(l.body) || h.Get(commands.HeaderReplayOf) != l.id {
			t.Errorf("replay %d: got subject %s, body %q, Replay-Of %q", i, m.Subject(), m.Data(), h.Get(commands.HeaderReplayOf))
		}
		for _, k := range []string{commands.HeaderCommandID, commands.HeaderDlqReason, commands.HeaderDlqStatus, commands.HeaderOriginalSubject, "Nats-Expected-Stream"} {
			if h.Get(k) != "" {
				t.Errorf("replay %d carries %s: %q", i, k, h.Get(k))
			}
		}
	}
	if got := cmds["a-replay-1"].Headers().Get("Reply-To"); got != "_INBOX.gone" {
		t.Errorf("replay of a: Reply-To %q, want the command's", got)
	}
	if n := dlqCount(js); n != 0 {
		t.Errorf("%d dead letters left, want 0", n)
	}
	out, _ = dlqOK(t, vars, "dlq", "list")
	if out != "no dead letters in CRM_DLQ\n" {
		t.Errorf("dlq list of an empty queue: got %q", out)
	}
}

// A replay that was stored but whose dead letter was not removed (a crash
// between the two) is not stored twice: within CRM_COMMANDS's duplicate
// window JetStream drops it, and later the dead letter of the replay that
// failed again shows it was replayed.
func TestDLQReplayIsIdempotentAfterACrash(t *testing.T) {
	vars, js := clientStreams(t, embedded.Options{})
	s := streams.Subjects{Prefix: "crm"}
	body := []byte(`{"number":"7"}`)
	seqs := storeLetters(t, js,
		dlqLetter{op: "update", id: "k1", status: "failed", reason: "CRM_TIMEOUT: no answer", original: s.Update("cus_1"), body: body},
		dlqLetter{op: "update", id: "k2", status: "failed", reason: "CRM_TIMEOUT: no answer", original: s.Update("cus_2"), body: body},
		dlqLetter{op: "update", id: "k2-replay-1", status: "rejected", reason: "NotFound: gone", original: s.Update("cus_2"), body: body,
			header: nats.Header{commands.HeaderReplayOf: {"k2"}}},
	)
	// The crash: k1's replay was stored, its dead letter not removed.
	m := nats.NewMsg(s.Update("cus_1"))
	m.Header.Set(nats.MsgIdHdr, "k1-replay-1")
	m.Header.Set(commands.HeaderReplayOf, "k1")
	m.Data = body
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}

	out, errOut := dlqOK(t, vars, "dlq", "replay", "--all")
	if strings.Contains(errOut, "WARNING") { // k1-replay-1 is k1's own replay, not a newer command
		t.Errorf("stderr: got\n%s\nwant no warning", errOut)
	}
	for _, want := range []string{
		fmt.Sprintf("seq %d command k1: k1-replay-1 was stored already, by an earlier replay; dead letter removed\n", seqs[0]),
		fmt.Sprintf("seq %d command k2: replayed already: k2-replay-1 is dead letter %d; dead letter removed\n", seqs[1], seqs[2]),
		fmt.Sprintf("seq %d command k2-replay-1: replayed as k2-replay-2 to crm.customer.update.cus_2\n", seqs[2]),
		"dlq replay: 3 dead letters: 1 replayed, 2 removed as replayed already, 0 failed; ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("replay: got\n%s\nwant %q", out, want)
		}
	}
	if _, order := commandsByID(t, js); strings.Join(order, " ") != "k1-replay-1 k2-replay-2" {
		t.Errorf("stored commands: got %v, want k1-replay-1 k2-replay-2", order)
	}
	if n := dlqCount(js); n != 0 {
		t.Errorf("%d dead letters left, want 0", n)
	}
}

// What cannot be replayed is named, exits 1, and is kept: a selector that
// names no dead letter, a dead letter whose Original-Subject is no
// command subject, and one whose republish is not stored.
func TestDLQReplayFailuresKeepTheDeadLetter(t *testing.T) {
	vars, js := clientStreams(t, embedded.Options{})
	s := streams.Subjects{Prefix: "crm"}
	seqs := storeLetters(t, js,
		dlqLetter{op: "create", id: "ok", status: "rejected", reason: "VALIDATION: x", original: s.Create(), body: []byte(`{}`)},
		dlqLetter{op: "unknown", id: "odd", status: "rejected", reason: "VALIDATION: subject", original: "crm.customer.result", body: []byte(`{}`)},
		dlqLetter{op: "delete", id: "lower", status: "rejected", reason: "VALIDATION: subject", original: "crm.customer.delete.a%2eb"},
	)
	out, _, err := cli(t, vars, "", "dlq", "replay", "999", "nope", "odd", "ok", "lower")
	if exitCode(err) != 1 {
		t.Fatalf("got %v (status %d), want exit status 1", err, exitCode(err))
	}
	for _, want := range []string{`"999": no dead letter in CRM_DLQ`, `"nope": no dead letter in CRM_DLQ`,
		fmt.Sprintf(`seq %d command odd: its Original-Subject "crm.customer.result" is not a command subject`, seqs[1]),
		fmt.Sprintf(`seq %d command lower: its Original-Subject cannot be replayed: subject "crm.customer.delete.a%%2eb": customer id token "a%%2eb" is not the canonical token: publish to crm.customer.delete.a%%2Eb`, seqs[2]),
		"4 not replayed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if want := "dlq replay: 3 dead letters: 1 replayed, 0 removed as replayed already, 2 failed; 2 not found; "; !strings.Contains(out, want) {
		t.Errorf("got\n%s\nwant %q", out, want)
	}
	if got := dlqSeqs(t, js); len(got) != 2 || got["odd"] != seqs[1] || got["lower"] != seqs[2] {
		t.Errorf("dead letters: got %v, want odd's and lower's", got)
	}

	// No stream to store the republish in: the dead letter stays.
	seqs = storeLetters(t, js, dlqLetter{op: "create", id: "kept", status: "failed", reason: "CRM_UNAVAILABLE: x", original: s.Create(), body: []byte(`{}`)})
	if err := js.DeleteStream(context.Background(), streams.Commands); err != nil {
		t.Fatal(err)
	}
	_, _, err = cli(t, vars, "", "dlq", "replay", "kept", "--timeout", "3s")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), fmt.Sprintf("seq %d command kept: ", seqs[0])) || !strings.Contains(err.Error(), "dead letter kept") {
		t.Errorf("got %v, want exit status 1 naming kept", err)
	}
	if got := dlqSeqs(t, js)["kept"]; got != seqs[0] {
		t.Errorf("dead letter of kept: got seq %d, want %d", got, seqs[0])
	}
}

// 2,000 dead letters replayed: progress with counts and a rate on stderr.
func TestDLQReplayManyLogsProgress(t *testing.T) {
	vars, js := clientStreams(t, embedded.Options{SyncInterval: time.Minute})
	s := streams.Subjects{Prefix: "crm"}
	const n = 2000
	letters := make([]dlqLetter, n)
	for i := range letters {
		letters[i] = dlqLetter{op: "update", id: fmt.Sprintf("m-%d", i), status: "failed", reason: "CRM_HTTP_503: unavailable",
			original: s.Update(fmt.Sprintf("cus_%d", i%50)), body: fmt.Appendf(nil, `{"number":"%d"}`, i)}
	}
	storeLetters(t, js, letters...)
	out, errOut := dlqOK(t, vars, "dlq", "replay", "--all")
	for _, want := range []string{"dlq replay: 1000 of 2000 dead letters done: ", "dlq replay: 2000 of 2000 dead letters done: 2000 replayed, 0 removed as replayed already, 0 failed, "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(errOut, "/s over ") {
		t.Errorf("stderr shows no rate:\n%s", errOut)
	}
	if got := strings.Count(out, ": replayed as m-"); got != n {
		t.Errorf("stdout: %d replayed lines, want %d", got, n)
	}
	cmds, order := commandsByID(t, js)
	if len(cmds) != n || order[0] != "m-0-replay-1" || order[n-1] != fmt.Sprintf("m-%d-replay-1", n-1) {
		t.Errorf("got %d commands stored (first %s), want %d in order", len(cmds), order[0], n)
	}
	// Per customer, the replays are stored in the order of their dead letters.
	last := map[string]int{}
	for _, id := range order {
		i, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(id, "m-"), "-replay-1"))
		c := streams.Published(cmds[id].Subject())
		if prev, ok := last[c]; ok && prev > i {
			t.Errorf("%s: %s stored after m-%d", c, id, prev)
		}
		last[c] = i
	}
	if k := dlqCount(js); k != 0 {
		t.Errorf("%d dead letters left, want 0", k)
	}
}

func TestDLQListEmptyAndWithoutStream(t *testing.T) {
	vars, js := clientStreams(t, embedded.Options{})
	out, errOut := dlqOK(t, vars, "dlq", "list", "--json")
	if out != "" || errOut != "no dead letters in CRM_DLQ\n" {
		t.Errorf("dlq list --json: got stdout %q, stderr %q", out, errOut)
	}
	out, _ = dlqOK(t, vars, "dlq", "list", "--op", "delete")
	if out != "no delete dead letters in CRM_DLQ\n" {
		t.Errorf("dlq list --op delete: got %q", out)
	}
	out, _ = dlqOK(t, vars, "dlq", "replay", "--all")
	if out != "no dead letters in CRM_DLQ\n" {
		t.Errorf("dlq replay --all: got %q", out)
	}
	st, err := js.Stream(context.Background(), streams.DLQ)
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Consumers; n != 0 {
		t.Errorf("CRM_DLQ has %d consumers left behind, want 0", n)
	}

	srv := natstest.Server(t)
	_, _, err = cli(t, map[string]string{"BRIDGE_NATS_URL": srv.ClientURL()}, "", "dlq", "list")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "no stream CRM_DLQ") {
		t.Errorf("without streams: got %v, want exit status 1 naming CRM_DLQ", err)
	}
}

func TestDLQUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"dlq"}, "want list, replay or discard"},
		{"unknown subcommand", []string{"dlq", "purge"}, `unknown subcommand "purge"`},
		{"list argument", []string{"dlq", "list", "12"}, `unexpected argument "12"`},
		{"list op", []string{"dlq", "list", "--op", "upsert"}, `--op "upsert"`},
		{"list limit", []string{"dlq", "list", "--limit", "-1"}, "--limit -1"},
		{"list flag", []string{"dlq", "list", "--bogus"}, "-bogus"},
		{"replay nothing", []string{"dlq", "replay"}, "or give --all"},
		{"replay both", []string{"dlq", "replay", "--all", "12"}, "--all and named dead letters (12) together"},
		{"replay flag after", []string{"dlq", "replay", "12", "--all"}, "--all and named dead letters (12) together"},
		{"replay flag", []string{"dlq", "replay", "--everything"}, "-everything"},
		{"discard without reason", []string{"dlq", "discard", "12"}, "--reason is required"},
		{"discard blank reason", []string{"dlq", "discard", "12", "--reason", " \t"}, "--reason is required"},
		{"discard nothing", []string{"dlq", "discard", "--reason", "x"}, "or give --all"},
		{"discard both", []string{"dlq", "discard", "--all", "12", "--reason", "x"}, "--all and named dead letters (12) together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cli(t, map[string]string{"BRIDGE_NATS_URL": "nats://127.0.0.1:1"}, "", tt.args...)
			if exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v (status %d), want a usage error with %q", err, exitCode(err), tt.want)
			}
		})
	}
}
