package poller

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/streams"
)

func TestMessage(t *testing.T) {
	subjects := streams.Subjects{Prefix: "crm"}
	at := time.Date(2026, 11, 27, 10, 0, 4, 512_000_000, time.UTC)
	tests := []struct {
		name        string
		id          string
		before      json.RawMessage
		after       json.RawMessage
		wantSubject string
	}{
		{"created", "cus_123", nil, json.RawMessage(userMap), "crm.customer.changed.cus_123"},
		{"updated", "cus_123", json.RawMessage(userMap),
			with(t, map[string]string{"lastName": `"Martin"`}), "crm.customer.changed.cus_123"},
		{"deleted", "cus_123", json.RawMessage(userMap), nil, "crm.customer.changed.cus_123"},
		{"id needing encoding", "a.b", nil, json.RawMessage(userMap), "crm.customer.changed.a%2Eb"},
		{"wildcards and dots cannot steer the subject", "a.*.>", nil, json.RawMessage(userMap), "crm.customer.changed.a%2E%2A%2E%3E"},
		{"id with wildcards and space", "a* >b", nil, json.RawMessage(userMap), "crm.customer.changed.a%2A%20%3Eb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := mustEvent(t, tt.id, tt.before, tt.after, at)
			m, err := Message(subjects, "org_9", ev)
			if err != nil {
				t.Fatalf("Message: %v", err)
			}
			if m.Subject != tt.wantSubject {
				t.Errorf("subject: got %q, want %q", m.Subject, tt.wantSubject)
			}
			wantHeader := map[string]string{
				"ce-specversion": "1.0",
				"ce-id":          ev.ID(),
				"ce-source":      "gormic-crm/org_9",
				"ce-type":        "crm.customer.changed",
				"ce-subject":     tt.id,
				"ce-time":        "2026-11-27T10:00:04.512Z",
				"Content-Type":   "application/json",
				nats.MsgIdHdr:    ev.ID(),
			}
			for k, want := range wantHeader {
				if got := m.Header.Values(k); len(got) != 1 || got[0] != want {
					t.Errorf("header %s: got %q, want [%q]", k, got, want)
				}
			}
			if len(m.Header) != len(wantHeader) {
				t.Errorf("headers: got %v, want only %v", m.Header, wantHeader)
			}
			var body Event
			if err := json.Unmarshal(m.Data, &body); err != nil {
				t.Fatalf("body %s: %v", m.Data, err)
			}
			sameEvent(t, body, ev)
			var fields struct {
				Fields     []string `json:"fields"`
				DetectedAt string   `json:"detectedAt"`
			}
			if err := json.Unmarshal(m.Data, &fields); err != nil {
				t.Fatal(err)
			}
			if fields.Fields == nil {
				t.Errorf("fields: got null, want an array")
			}
			if fields.DetectedAt != "2026-11-27T10:00:04.512Z" {
				t.Errorf("detectedAt: got %q, want %q", fields.DetectedAt, "2026-11-27T10:00:04.512Z")
			}
		})
	}
}

func TestMessageInvalid(t *testing.T) {
	subjects := streams.Subjects{Prefix: "crm"}
	valid := mustEvent(t, "cus_1", nil, json.RawMessage(`{"id":"cus_1"}`), detected)
	tests := []struct {
		name  string
		org   string
		event func(e Event) Event
	}{
		{"empty customer id", "org", func(e Event) Event { e.CustomerID = ""; return e }},
		{"empty org id", "", func(e Event) Event { return e }},
		{"unknown change", "org", func(e Event) Event { e.Change = "touched"; return e }},
		{"no change", "org", func(e Event) Event { e.Change = ""; return e }},
		{"invalid after", "org", func(e Event) Event { e.After = json.RawMessage(`{"id":`); return e }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := Message(subjects, tt.org, tt.event(valid)); err == nil {
				t.Errorf("Message: got %v, want an error", m)
			}
		})
	}
}

// TestReleasedMessageLeavesNothing checks that a message's arrays, once
// given back, take nothing of it into the next: its headers (and one
// nats.go adds as it publishes) and its body.
func TestReleasedMessageLeavesNothing(t *testing.T) {
	subjects := streams.Subjects{Prefix: "crm"}
	at := time.Date(2026, 11, 27, 10, 0, 4, 512_000_000, time.UTC)
	for i := range 20 {
		first := mustEvent(t, "cus_1", nil, json.RawMessage(userMap), at)
		m, err := message(subjects, "org_9", first, eventID{})
		if err != nil {
			t.Fatal(err)
		}
		m.Header.Set("Nats-Expected-Last-Subject-Sequence", "41")
		m.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		releaseEventBuf(m)
		if m.Header != nil || m.Data != nil {
			t.Fatalf("released message: header %v, data %q; want neither", m.Header, m.Data)
		}
		releaseEventBuf(m) // a second release gives nothing back twice

		next := mustEvent(t, "cus_2", json.RawMessage(userMap), with(t, map[string]string{"lastName": `"Martin"`}), at)
		n, err := message(subjects, "org_9", next, eventID{})
		if err != nil {
			t.Fatal(err)
		}
		if len(n.Header) != 8 || n.Header.Get("ce-subject") != "cus_2" || n.Header.Get(nats.MsgIdHdr) != next.ID() {
			t.Fatalf("round %d: the next message's headers: %v", i, n.Header)
		}
		var body Event
		if err := json.Unmarshal(n.Data, &body); err != nil {
			t.Fatalf("round %d: the next message's body %s: %v", i, n.Data, err)
		}
		sameEvent(t, body, next)
		releaseEventBuf(n)
	}
}
