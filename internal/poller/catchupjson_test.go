package poller

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzEventCustomer holds eventCustomer to what json.Unmarshal into a
// catchUpEvent says, whatever the bytes: the same customer, and an error
// exactly where it has one. Its seeds are events as the poller writes
// them, and the ways a message on the events' subjects may not be one.
func FuzzEventCustomer(f *testing.F) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for i, r := range fuzzRecords {
		ev := Event{CustomerID: "cus_1", Change: Created, After: json.RawMessage(r), DetectedAt: t0}
		if i%2 == 1 {
			ev = Event{CustomerID: "cus_2", Change: Updated, Before: json.RawMessage(r), After: json.RawMessage(r), DetectedAt: t0}
		}
		if b, err := json.Marshal(ev); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"customerId":"cus_1","truncated":true}`,
		`{"customerId":"cus_1","customerId":"cus_2"}`,
		`{"CUSTOMERID":"cus_1"}`,
		`{"customerid":"cus_1","customerId":null}`,
		`{"customer\u0049d":"cus_1"}`,
		`{"customerİd":"cus_1"}`,
		`{"cuſtomerId":"cus_1"}`,
		`{"customerId":"cus_\u00e9\ud800"}`,
		"{\"customerId\":\"cus_\xff\"}",
		`{"customerId":1}`,
		`{"customerId":["cus_1"]}`,
		`{"customerId":"cus_1","truncated":"yes"}`,
		`{"customerId":"cus_1","truncated":0}`,
		`{"customerId":"cus_1","after":{"a":[1,2,{"b":"}"}]}}`,
		`{"customerId":"cus_1"`,
		`["cus_1"]`,
		`"cus_1"`,
		`null`,
		` {} `,
		``,
		`not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev catchUpEvent
		wantErr := json.Unmarshal(data, &ev)
		got, err := eventCustomer(data)
		if (err != nil) != (wantErr != nil) || err == nil && got != ev.CustomerID {
			t.Fatalf("eventCustomer(%q): got %q, %v; json.Unmarshal: %q, %v", data, got, err, ev.CustomerID, wantErr)
		}
	})
}

// BenchmarkEventCustomer reads the customer of an updated event, as
// catch-up reads each event since the last complete poll, against
// json.Unmarshal (its way before).
func BenchmarkEventCustomer(b *testing.B) {
	r := json.RawMessage(fuzzRecords[len(fuzzRecords)-1])
	data, err := json.Marshal(Event{CustomerID: "cus_1", Change: Updated, Before: r, After: r,
		DetectedAt: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			if id, err := eventCustomer(data); err != nil || id != "cus_1" {
				b.Fatal(id, err)
			}
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		for b.Loop() {
			var ev catchUpEvent
			if err := json.Unmarshal(data, &ev); err != nil || ev.CustomerID != "cus_1" {
				b.Fatal(ev.CustomerID, err)
			}
		}
	})
}
