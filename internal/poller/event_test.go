package poller

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/streams"
)

var detected = time.Date(2026, 11, 27, 11, 0, 4, 512_345_678, time.FixedZone("CET", 3600))

func TestNewEvent(t *testing.T) {
	base := json.RawMessage(userMap)
	changed := with(t, map[string]string{"email": `"m@example.org"`, "updatedAt": `"2026-11-27T10:01:00Z"`})
	touched := with(t, map[string]string{"updatedAt": `"2026-11-27T10:01:00Z"`, "updatedBy": `"usr_1"`})
	archived := with(t, map[string]string{"archivedAt": `"2026-11-27T10:02:00Z"`, "archivedBy": `"usr_1"`,
		"updatedAt": `"2026-11-27T10:02:00Z"`})
	tests := []struct {
		name          string
		before, after json.RawMessage
		wantOK        bool
		wantChange    string
		wantFields    []string
		wantUpdatedAt string
	}{
		{"created", nil, base, true, Created, []string{}, "2026-11-27T10:00:00Z"},
		{"updated", base, changed, true, Updated, []string{"email"}, "2026-11-27T10:01:00Z"},
		{"archived", base, archived, true, Updated, []string{"archivedAt", "archivedBy"}, "2026-11-27T10:02:00Z"},
		{"deleted", changed, nil, true, Deleted, []string{}, "2026-11-27T10:01:00Z"},
		{"deleted, empty after", changed, json.RawMessage{}, true, Deleted, []string{}, "2026-11-27T10:01:00Z"},
		{"touch", base, touched, false, "", nil, ""},
		{"reordered", base, reversed(t, base), false, "", nil, ""},
		{"same", base, base, false, "", nil, ""},
		{"both nil", nil, nil, false, "", nil, ""},
		{"created without updatedAt", nil, json.RawMessage(`{"id":"x"}`), true, Created, []string{}, ""},
		{"created, updatedAt not a string", nil, json.RawMessage(`{"updatedAt":5}`), true, Created, []string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, ok, err := NewEvent("cus_1", tt.before, tt.after, detected)
			if err != nil {
				t.Fatalf("NewEvent: %v", err)
			}
			if ok != tt.wantOK {
				t.Fatalf("ok: got %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				if ev.CustomerID != "" || ev.Change != "" {
					t.Errorf("event: got %+v, want the zero Event", ev)
				}
				return
			}
			if ev.CustomerID != "cus_1" {
				t.Errorf("CustomerID: got %q, want %q", ev.CustomerID, "cus_1")
			}
			if ev.Change != tt.wantChange {
				t.Errorf("Change: got %q, want %q", ev.Change, tt.wantChange)
			}
			if ev.Fields == nil || !slices.Equal(ev.Fields, tt.wantFields) {
				t.Errorf("Fields: got %#v, want %#v", ev.Fields, tt.wantFields)
			}
			if ev.UpdatedAt != tt.wantUpdatedAt {
				t.Errorf("UpdatedAt: got %q, want %q", ev.UpdatedAt, tt.wantUpdatedAt)
			}
			wantBefore, wantAfter := tt.before, tt.after
			if tt.wantChange == Created {
				wantBefore = nil
			}
			if tt.wantChange == Deleted {
				wantAfter = nil
			}
			if !bytes.Equal(ev.Before, wantBefore) || (ev.Before == nil) != (wantBefore == nil) {
				t.Errorf("Before: got %s, want %s", ev.Before, wantBefore)
			}
			if !bytes.Equal(ev.After, wantAfter) || (ev.After == nil) != (wantAfter == nil) {
				t.Errorf("After: got %s, want %s", ev.After, wantAfter)
			}
			want := time.Date(2026, 11, 27, 10, 0, 4, 512_000_000, time.UTC)
			if !ev.DetectedAt.Equal(want) || ev.DetectedAt.Location() != time.UTC {
				t.Errorf("DetectedAt: got %v, want %v", ev.DetectedAt, want)
			}
		})
	}
}

func TestNewEventInvalid(t *testing.T) {
	valid := json.RawMessage(`{"id":"cus_1"}`)
	tests := []struct {
		name          string
		id            string
		before, after json.RawMessage
		wantErr       error // nil: any error
	}{
		{"created, not an object", "cus_1", nil, json.RawMessage(`[]`), ErrInvalidRecord},
		{"deleted, invalid JSON", "cus_1", json.RawMessage(`{"id":`), nil, ErrInvalidRecord},
		{"updated, invalid before", "cus_1", json.RawMessage(`{"id":}`), valid, ErrInvalidRecord},
		{"updated, invalid after", "cus_1", valid, json.RawMessage(`null`), ErrInvalidRecord},
		{"empty customer id", "", nil, valid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, err := NewEvent(tt.id, tt.before, tt.after, detected)
			if err == nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error: got %v, want %v", err, tt.wantErr)
			}
			if ok {
				t.Errorf("ok: got true, want false")
			}
		})
	}
}

// mustEvent returns NewEvent's event, failing the test when there is none.
func mustEvent(t *testing.T, id string, before, after json.RawMessage, at time.Time) Event {
	t.Helper()
	ev, ok, err := NewEvent(id, before, after, at)
	if err != nil || !ok {
		t.Fatalf("NewEvent(%s, %s, %s): got ok %v, error %v; want an event", id, before, after, ok, err)
	}
	return ev
}

func TestEventID(t *testing.T) {
	base := json.RawMessage(userMap)
	changed := with(t, map[string]string{"email": `"m@example.org"`, "updatedAt": `"2026-11-27T10:01:00Z"`})
	// The same change, touched once more: Diff between the afters is empty.
	changedLater := with(t, map[string]string{"email": `"m@example.org"`, "updatedAt": `"2026-11-27T10:02:00Z"`})
	if d, _ := Diff(changed, changedLater); len(d) != 0 {
		t.Fatalf("Diff(changed, changedLater): got %q, want none", d)
	}
	updated := mustEvent(t, "cus_1", base, changed, detected)

	same := []struct {
		name string
		ev   Event
	}{
		{"detected again later", mustEvent(t, "cus_1", base, changed, detected.Add(time.Hour))},
		{"records reordered and reindented", mustEvent(t, "cus_1", reversed(t, base), reversed(t, changed), detected)},
		{"fields and updatedAt ignored", func() Event { e := updated; e.Fields = nil; e.UpdatedAt = "x"; return e }()},
	}
	for _, tt := range same {
		t.Run("same/"+tt.name, func(t *testing.T) {
			if got, want := tt.ev.ID(), updated.ID(); got != want {
				t.Errorf("ID: got %s, want %s", got, want)
			}
		})
	}
	different := []struct {
		name string
		ev   Event
	}{
		{"updatedAt differs", mustEvent(t, "cus_1", base, changedLater, detected)},
		{"before differs", mustEvent(t, "cus_1", with(t, map[string]string{"phone": `"+33600000000"`}), changed, detected)},
		{"other customer", mustEvent(t, "cus_2", base, changed, detected)},
		{"created of the same after", mustEvent(t, "cus_1", nil, changed, detected)},
		{"deleted of the same before", mustEvent(t, "cus_1", base, nil, detected)},
		{"created relabelled as updated", func() Event { e := mustEvent(t, "cus_1", nil, changed, detected); e.Change = Updated; return e }()},
		{"before and after swapped", mustEvent(t, "cus_1", changed, base, detected)},
	}
	seen := map[string]string{updated.ID(): "updated"}
	for _, tt := range different {
		t.Run("different/"+tt.name, func(t *testing.T) {
			id := tt.ev.ID()
			if other, dup := seen[id]; dup {
				t.Errorf("ID %s: got the same as %q, want a different one", id, other)
			}
			seen[id] = tt.name
		})
	}
	t.Run("format", func(t *testing.T) {
		// Fixed across versions: JetStream deduplicates by it across a
		// restart with a new build.
		const want = "59b2aca6027d21e9cb534eef5e8b9b2a"
		if got := updated.ID(); got != want {
			t.Errorf("ID: got %s, want %s", got, want)
		}
	})
	t.Run("invalid record", func(t *testing.T) {
		a := Event{CustomerID: "cus_1", Change: Updated, Before: json.RawMessage(`{`), After: base}
		b := Event{CustomerID: "cus_1", Change: Updated, Before: json.RawMessage(`{ `), After: base}
		if a.ID() == b.ID() {
			t.Errorf("IDs of different invalid records: got the same, want different")
		}
	})
}

// TestNewEventID checks that the ID and forms newEvent computes from its
// one parse of each record (the pipeline's) are those ID and idAndForm
// compute from the event: records with members out of order, repeated,
// nested, spaced, escaped, and compact.
func TestNewEventID(t *testing.T) {
	records := []string{
		`{"id":"cus_1","email":"a@example.org","updatedAt":"2026-11-27T10:00:00Z"}`,
		`{"updatedAt":"2026-11-27T10:00:00Z", "id":"cus_1", "email":"b@example.org"}`,
		`{"id":"cus_1","id":"cus_1","tags":["b","a"],"address":{"zip":"75001","city":"Paris","city":"Lyon"}}`,
		"{\n\t\"id\" : \"cus_1\",\n\t\"n\": 1.50e2, \"s\": \"\\u00e9<&>\" }",
		`{"id":"cus_1","nested":{"b":{"d":1,"c":[{"f":1,"e":2}]},"a":null},"updatedAt":7}`,
		`{}`,
	}
	for i, b := range append([]string{""}, records...) {
		for j, a := range append([]string{""}, records...) {
			ev, ok, err := NewEvent("cus_1", json.RawMessage(b), json.RawMessage(a), detected)
			if err != nil {
				t.Fatalf("NewEvent(%d, %d): %v", i, j, err)
			}
			if ok {
				checkEventID(t, "cus_1", []byte(b), []byte(a), detected, ev)
			}
		}
	}
}

func TestEventJSON(t *testing.T) {
	ev := mustEvent(t, "cus_1", nil, json.RawMessage(`{"id":"cus_1", "updatedAt":"2026-11-27T10:00:00Z"}`),
		time.Date(2026, 11, 27, 10, 0, 4, 0, time.UTC))
	got, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"customerId":"cus_1","change":"created","fields":[],"before":null,` +
		`"after":{"id":"cus_1","updatedAt":"2026-11-27T10:00:00Z"},` +
		`"updatedAt":"2026-11-27T10:00:00Z","detectedAt":"2026-11-27T10:00:04.000Z"}`
	if string(got) != want {
		t.Errorf("JSON:\ngot  %s\nwant %s", got, want)
	}
	var back Event
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	sameEvent(t, back, ev)

	t.Run("zero values", func(t *testing.T) {
		got, err := json.Marshal(Event{CustomerID: "x", Change: Deleted, Before: json.RawMessage(`{}`), After: json.RawMessage{}})
		if err != nil {
			t.Fatal(err)
		}
		const want = `{"customerId":"x","change":"deleted","fields":[],"before":{},"after":null,` +
			`"updatedAt":"","detectedAt":"0001-01-01T00:00:00.000Z"}`
		if string(got) != want {
			t.Errorf("JSON:\ngot  %s\nwant %s", got, want)
		}
	})
}

// sameEvent fails the test unless got and want are the same event: equal
// fields, times and JSON values.
func sameEvent(t *testing.T, got, want Event) {
	t.Helper()
	if got.CustomerID != want.CustomerID || got.Change != want.Change || got.UpdatedAt != want.UpdatedAt ||
		!slices.Equal(got.Fields, want.Fields) || !got.DetectedAt.Equal(want.DetectedAt) {
		t.Errorf("event:\ngot  %+v\nwant %+v", got, want)
	}
	for _, r := range []struct {
		name      string
		got, want json.RawMessage
	}{{"before", got.Before, want.Before}, {"after", got.After, want.After}} {
		if gotNull, wantNull := isNull(r.got), isNull(r.want); gotNull || wantNull {
			if gotNull != wantNull {
				t.Errorf("%s: got %s, want %s", r.name, r.got, r.want)
			}
			continue
		}
		var c1, c2 canon
		if err1, err2 := c1.whole(r.got), c2.whole(r.want); err1 != nil || err2 != nil || !bytes.Equal(c1.buf, c2.buf) {
			t.Errorf("%s: got %s, want %s", r.name, r.got, r.want)
		}
	}
}

// BenchmarkEventMessage makes an update's event and its message as the
// pipeline does (newEvent, then message with its eventID: each record
// parsed once) and as from NewEvent alone (Message parses both again).
func BenchmarkEventMessage(b *testing.B) {
	before := json.RawMessage(userMap)
	after := with(b, map[string]string{"email": `"m.dupont@example.org"`, "updatedAt": `"2026-11-27T11:00:00Z"`})
	subjects := streams.Subjects{Prefix: "crm"}
	b.Run("pipeline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev, eid, _, err := newEvent("cus_1", before, after, detected)
			if err == nil {
				_, err = message(subjects, "org", ev, eid)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("NewEvent+Message", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev, _, err := NewEvent("cus_1", before, after, detected)
			if err == nil {
				_, err = Message(subjects, "org", ev)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
