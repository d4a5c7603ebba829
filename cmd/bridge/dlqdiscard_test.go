package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/deadletter"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/streams"
)

// discardLogs returns the JSON log lines of a discard with msg, by
// command id.
func discardLogs(t *testing.T, stderr, msg string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for line := range strings.Lines(stderr) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stderr line %q: %v", line, err)
		}
		if m["msg"] == msg {
			id, _ := m["command_id"].(string)
			out[id] = m
		}
	}
	return out
}

// Discard removes exactly the dead letters named, by sequence and by
// command id, and logs who removed each, what it was and why.
func TestDLQDiscard(t *testing.T) {
	vars, js := clientStreams(t, embedded.Options{})
	s := streams.Subjects{Prefix: "crm"}
	seqs := storeLetters(t, js,
		dlqLetter{op: "create", id: "keep-1", status: "rejected", reason: "VALIDATION: x", original: s.Create(), body: []byte(`{}`)},
		dlqLetter{op: "update", id: "u1", status: "rejected", reason: "NotFound: gone", original: s.Update("cus_1"), body: []byte(`{"number":"1"}`)},
		dlqLetter{op: "delete", id: "1042", status: "failed", reason: "CRM_TIMEOUT: x", original: s.Delete("cus_2")},
		dlqLetter{op: "update", id: "keep-2", status: "failed", reason: "CRM_TIMEOUT: x", original: s.Update("cus_3"), body: []byte(`{"number":"3"}`)},
	)

	out, errOut := dlqOK(t, vars, "dlq", "discard", fmt.Sprint(seqs[2]), "u1", "--reason", "customer asked us to drop it")
	for _, want := range []string{
		fmt.Sprintf("seq %d command u1: discarded\n", seqs[1]),
		fmt.Sprintf("seq %d command 1042: discarded\n", seqs[2]),
		"dlq discard: 2 dead letters: 2 discarded, 0 gone already, 0 failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout: got\n%s\nwant %q", out, want)
		}
	}
	if got := dlqSeqs(t, js); len(got) != 2 || got["keep-1"] != seqs[0] || got["keep-2"] != seqs[3] {
		t.Errorf("dead letters left: got %v, want keep-1 and keep-2", got)
	}

	me, _ := user.Current()
	host, _ := os.Hostname()
	logs := discardLogs(t, errOut, "dead letter discarded")
	for _, want := range []map[string]any{
		{"seq": float64(seqs[1]), "command_id": "u1", "op": "update", "customer_id": "cus_1", "dlq_reason": "NotFound: gone"},
		{"seq": float64(seqs[2]), "command_id": "1042", "op": "delete", "customer_id": "cus_2", "dlq_status": "failed"},
	} {
		got := logs[want["command_id"].(string)]
		if got == nil {
			t.Errorf("no log line for %s in\n%s", want["command_id"], errOut)
			continue
		}
		want["discard_reason"] = "customer asked us to drop it"
		want["os_user"] = me.Username
		want["host"] = host
		want["nats_account"] = "$G" // the server's default account: no authentication
		for k, v := range want {
			if got[k] != v {
				t.Errorf("log of %s: got %s=%v, want %v", want["command_id"], k, got[k], v)
			}
		}
	}
	if len(logs) != 2 {
		t.Errorf("got %d discard log lines, want 2:\n%s", len(logs), errOut)
	}

	out, _ = dlqOK(t, vars, "dlq", "discard", "--all", "--dry-run", "--reason", "test")
	if !strings.Contains(out, "dlq discard: 2 dead letters would be discarded (dry run: nothing changed)\n") || dlqCount(js) != 2 {
		t.Errorf("dry run: got\n%s\nand %d dead letters, want 2 kept", out, dlqCount(js))
	}
	out, _ = dlqOK(t, vars, "dlq", "discard", "--all", "--reason", "test data")
	if !strings.Contains(out, "dlq discard: 2 dead letters: 2 discarded, ") || dlqCount(js) != 0 {
		t.Errorf("discard --all: got\n%s\nand %d dead letters, want none", out, dlqCount(js))
	}
	out, _ = dlqOK(t, vars, "dlq", "discard", "--all", "--reason", "test data")
	if out != "no dead letters in CRM_DLQ\n" {
		t.Errorf("discard --all of an empty queue: got %q", out)
	}
}

// A selector that names no dead letter is an error, exit status 1, and
// nothing is removed, not even what the other selectors name.
func TestDLQDiscardUnknownRemovesNothing(t *testing.T) {
	vars, js := clientStreams(t, embedded.Options{})
	s := streams.Subjects{Prefix: "crm"}
	seqs := storeLetters(t, js, dlqLetter{op: "create", id: "c1", status: "rejected", reason: "VALIDATION: x", original: s.Create(), body: []byte(`{}`)})
	out, errOut, err := cli(t, vars, "", "dlq", "discard", "c1", "999", "nope", "--reason", "typo")
	if exitCode(err) != 1 {
		t.Fatalf("got %v (status %d), want exit status 1", err, exitCode(err))
	}
	if want := `nothing discarded: no dead letter in CRM_DLQ has the stream sequence or command id "999", "nope"`; !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want it to say %q", err, want)
	}
	if out != "" || strings.Contains(errOut, "discarded") {
		t.Errorf("got stdout %q, stderr %q; want nothing about a discard", out, errOut)
	}
	if got := dlqSeqs(t, js); got["c1"] != seqs[0] {
		t.Errorf("dead letters: got %v, want c1 kept", got)
	}
}

// A dead letter removed meanwhile (by a replay or another discard) is
// reported gone already, and is no error; one that cannot be removed is
// named in the error, the others being removed.
func TestDLQDiscardGoneAndFailed(t *testing.T) {
	_, js := clientStreams(t, embedded.Options{})
	s := streams.Subjects{Prefix: "crm"}
	storeLetters(t, js,
		dlqLetter{op: "create", id: "gone", status: "rejected", reason: "VALIDATION: x", original: s.Create(), body: []byte(`{}`)},
		dlqLetter{op: "create", id: "here", status: "rejected", reason: "VALIDATION: x", original: s.Create(), body: []byte(`{}`)},
	)
	ctx := context.Background()
	letters, err := deadletter.Queue{JS: js, Subjects: s, Timeout: 10 * time.Second}.All(ctx)
	if err != nil || len(letters) != 2 {
		t.Fatalf("got %d dead letters, %v; want 2", len(letters), err)
	}
	st, err := js.Stream(ctx, streams.DLQ)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(ctx, letters[0].Seq); err != nil {
		t.Fatal(err)
	}
	var out, logs bytes.Buffer
	d := discarder{dlq: st, out: &out, log: newLogger("json", slog.LevelInfo, &logs), subjects: s, timeout: 10 * time.Second}
	if err := d.run(ctx, letters); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	for _, want := range []string{
		fmt.Sprintf("seq %d command gone: gone already (removed meanwhile)\n", letters[0].Seq),
		fmt.Sprintf("seq %d command here: discarded\n", letters[1].Seq),
		"dlq discard: 2 dead letters: 1 discarded, 1 gone already, 0 failed\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("got\n%s\nwant %q", out.String(), want)
		}
	}

	// No stream to remove them from: each is named, NOT DISCARDED.
	if err := js.DeleteStream(ctx, streams.DLQ); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = d.run(ctx, letters[1:])
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("1 not discarded (the others were):\n  seq %d command here: ", letters[1].Seq)) {
		t.Errorf("got %v, want an error naming here", err)
	}
	if !strings.Contains(out.String(), "command here: NOT DISCARDED: ") || len(discardLogs(t, logs.String(), "dead letter not discarded")) != 1 {
		t.Errorf("got stdout\n%s\nlogs\n%s\nwant here NOT DISCARDED, and logged", out.String(), logs.String())
	}
}
