package crmsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/btree"

	"github.com/gormic/crm-bridge/internal/crm"
)

// TestPersistRoundTrip saves a seeded and changed simulator, loads the
// document into a new one, and checks that both hold the same records and
// indexes, answer get, list and export alike, and generate the same values
// next, none of them a repeat.
func TestPersistRoundTrip(t *testing.T) {
	clk := newClock()
	opts := Options{Now: clk.Now, RandSeed: 7, PageSize: 40, TimestampPrecision: time.Millisecond}
	h := start(t, opts)
	sim := h.sim
	sim.Seed(300)
	changeAll(t, h, clk)
	before := everID(sim)

	var doc bytes.Buffer
	if err := sim.Save(&doc); err != nil {
		t.Fatal(err)
	}
	opts.RandSeed = 8 // the document's random state must win
	h2 := start(t, opts)
	if err := h2.sim.Load(bytes.NewReader(doc.Bytes())); err != nil {
		t.Fatal(err)
	}
	sameStore(t, sim.store, h2.sim.store)
	loaded := everID(h2.sim)
	if got, want := h2.sim.ChangeSeq(), sim.ChangeSeq(); got != want || len(h2.sim.Changes()) != 0 {
		t.Errorf("change seq: got %d with %d changes logged, want %d with none", got, len(h2.sim.Changes()), want)
	}
	sameAnswers(t, h, h2)
	var again bytes.Buffer
	if err := h2.sim.Save(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), doc.Bytes()) {
		t.Error("saving the loaded simulator gives another document")
	}

	// The next values: the same on both, and none a repeat of a value
	// generated before the save (the deleted customers' ids included).
	p := crm.CreateParams{FirstName: "Next", Phone: "5550999"}
	a, errA := sim.CreateCustomer(p)
	b, errB := h2.sim.CreateCustomer(p)
	if errA != nil || errB != nil || a.ID != b.ID || a.Number != b.Number {
		t.Fatalf("next create: got %s/%s and %s/%s (%v, %v), want the same id and number", a.ID, a.Number, b.ID, b.Number, errA, errB)
	}
	if cs := h2.sim.Changes(); len(cs) != 1 || cs[0].Seq != sim.ChangeSeq() {
		t.Errorf("changes after load: got %+v, want one with Seq %d", cs, sim.ChangeSeq())
	}
	sim.Seed(50)
	h2.sim.Seed(50)
	sim.churnOnce(30)
	h2.sim.churnOnce(30)
	sameStore(t, sim.store, h2.sim.store)
	numbers := map[string]string{}
	for id, r := range h2.sim.store.byID {
		if other, dup := numbers[r.number]; dup {
			t.Errorf("number %s is %s's and %s's", r.number, other, id)
		}
		numbers[r.number] = id
		if before[id] && !loaded[id] {
			t.Errorf("id %s generated again after the load", id)
		}
	}
}

// changeAll makes every kind of change, over HTTP and out of band.
func changeAll(t *testing.T, h *harness, clk *clock) {
	t.Helper()
	sim := h.sim
	clk.Advance(time.Second)
	api := h.create(map[string]any{"firstName": "Api", "phone": "+44 20 7946 0001", "lastName": "Lovelace",
		"email": "api@example.com", "gender": "F", "unsubscribed": false, "internalNote": "note", "passcode": "1234",
		"cityId": "c1", "birthDate": "1815-12-10"})
	if a := h.call("PATCH", "/v1/crm/customers/"+api, `{"params":{"id":"`+api+`","internalNote":null,"number":"N-1"}}`, nil); a.status != 200 {
		t.Fatalf("update: got %d %s", a.status, a.body)
	}
	gone := h.create(map[string]any{"firstName": "Gone", "phone": "5550001"})
	clk.Advance(time.Millisecond)
	if a := h.call("DELETE", "/v1/crm/customers/"+gone, nil, nil); a.status != 200 {
		t.Fatalf("delete: got %d %s", a.status, a.body)
	}
	ui, err := sim.CreateCustomer(crm.CreateParams{FirstName: "Ui", Phone: "+1 555 0002", Email: ptr("")})
	if err != nil {
		t.Fatal(err)
	}
	seeded := sim.Customers()
	clk.Advance(time.Millisecond)
	if _, err := sim.UpdateCustomer(seeded[0].ID, func(c *crm.Customer) { c.Email, c.LastName = "new@example.com", nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Archive(seeded[1].ID); err != nil {
		t.Fatal(err)
	}
	// The archived customer's phone is free: another live customer takes it.
	if _, err := sim.CreateCustomer(crm.CreateParams{FirstName: "Heir", Phone: seeded[1].Phone}); err != nil {
		t.Fatal(err)
	}
	if err := sim.Delete(seeded[2].ID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Millisecond)
	if _, err := sim.Touch(ui.ID); err != nil {
		t.Fatal(err)
	}
	sim.churnOnce(40)
}

func ptr[T any](v T) *T { return &v }

// everID returns the ids the simulator holds or has logged.
func everID(sim *Simulator) map[string]bool {
	ids := map[string]bool{}
	for _, c := range sim.Customers() {
		ids[c.ID] = true
	}
	for _, c := range sim.Changes() {
		ids[c.CustomerID] = true
	}
	return ids
}

// sameStore fails the test unless b holds the records, indexes and
// counters of a.
func sameStore(t *testing.T, a, b *store) {
	t.Helper()
	if len(a.byID) != len(b.byID) {
		t.Fatalf("got %d customers, want %d", len(b.byID), len(a.byID))
	}
	for id, ra := range a.byID {
		rb := b.byID[id]
		if rb == nil {
			t.Errorf("customer %s missing", id)
		} else if !reflect.DeepEqual(*ra, *rb) {
			t.Errorf("customer %s:\n got %+v\nwant %+v", id, *rb, *ra)
		}
	}
	keys := func(tr *btree.BTreeG[timeKey]) []timeKey {
		var ks []timeKey
		tr.Ascend(func(k timeKey) bool { ks = append(ks, k); return true })
		return ks
	}
	if !slices.Equal(keys(a.byUpdated), keys(b.byUpdated)) || !slices.Equal(keys(a.byCreated), keys(b.byCreated)) {
		t.Error("the export or list index differs")
	}
	if !maps.Equal(a.phones, b.phones) {
		t.Errorf("phones: got %d keys, want %d, or other owners", len(b.phones), len(a.phones))
	}
	if a.numberSeq != b.numberSeq || a.phoneSeq != b.phoneSeq || a.changeSeq != b.changeSeq {
		t.Errorf("counters: got %d/%d/%d, want %d/%d/%d", b.numberSeq, b.phoneSeq, b.changeSeq, a.numberSeq, a.phoneSeq, a.changeSeq)
	}
	if *a.src != *b.src {
		t.Error("random states differ")
	}
}

// sameAnswers fails the test unless both simulators answer every export
// and list page, and get of every customer, with the same data.
func sameAnswers(t *testing.T, a, b *harness) {
	t.Helper()
	for _, base := range []string{"/v1/crm/customers/export?updatedSince=", "/v1/crm/customers?"} {
		next := ""
		for n := 0; ; n++ {
			path := base
			if next != "" {
				path += "&offset=" + next
			}
			da, db := a.call("GET", path, nil, nil).envelope(t).Data, b.call("GET", path, nil, nil).envelope(t).Data
			if !bytes.Equal(da, db) {
				t.Fatalf("%s page %d:\n got %s\nwant %s", base, n, db, da)
			}
			var p page
			if err := json.Unmarshal(da, &p); err != nil {
				t.Fatal(err)
			}
			if p.Next == nil {
				break
			}
			next = *p.Next
		}
	}
	for _, c := range a.sim.Customers() {
		ga, gb := a.call("GET", "/v1/crm/customers/"+c.ID, nil, nil), b.call("GET", "/v1/crm/customers/"+c.ID, nil, nil)
		if ga.status != 200 || gb.status != 200 || !bytes.Equal(ga.envelope(t).Data, gb.envelope(t).Data) {
			t.Errorf("get %s: got %d %s, want %d %s", c.ID, gb.status, gb.body, ga.status, ga.body)
		}
	}
}

// TestPersistLoadRejects loads broken documents: each is refused with
// ErrBadState and a message saying what is wrong, and leaves the simulator
// empty, able to load a good document.
func TestPersistLoadRejects(t *testing.T) {
	sim, err := New(Options{RandSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	sim.Seed(3)
	if _, err := sim.Archive(sim.Customers()[0].ID); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := sim.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	lines := strings.SplitAfter(strings.TrimSuffix(good, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want a header and 3 customers:\n%s", len(lines), good)
	}
	header, first := lines[0], lines[1]
	firstID := sim.Customers()[0].ID
	secondID := sim.Customers()[1].ID
	join := func(ls ...string) string { return strings.Join(ls, "") }
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"empty", "", "header: empty document"},
		{"not json", "hello\n", "header: invalid character"},
		{"another format", strings.Replace(good, stateFormat, "tar", 1), `format "tar"`},
		{"version 2", strings.Replace(good, `"version":1`, `"version":2`, 1), "version 2, this simulator reads version 1"},
		{"negative count", strings.Replace(good, `"customers":3`, `"customers":-1`, 1), "-1 customers"},
		{"bad random state", strings.Replace(good, `"rand":"`, `"rand":"AAAA`, 1), "random state"},
		{"truncated", join(lines[:3]...), "truncated: 2 of 3 customers"},
		{"cut in a line", join(header, first[:len(first)/2]), "customer 1 of 3: unexpected EOF"},
		{"corrupt customer", join(header, "{\"id\":}\n", lines[2], lines[3]), "customer 1 of 3: invalid character"},
		{"customer of another type", join(header, "{\"id\":5}\n", lines[2], lines[3]), "customer 1 of 3"},
		{"unknown via", strings.Replace(good, `"createdVia":"ui"`, `"createdVia":"fax"`, 1), `customer 1 of 3: via "fax"`},
		{"no id", strings.Replace(good, `"id":"`+firstID+`"`, `"id":""`, 1), "customer 1 of 3: no id"},
		{"duplicate id", join(header, first, first, lines[3]), "customer 2 of 3: id " + firstID + " appears twice"},
		{"duplicate phone", join(header, lines[1], lines[2], strings.Replace(lines[2], secondID, "cus_other", 1)), "customer 3 of 3: phone"},
		{"data after", good + "{}\n", "data after the 3 customers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = fresh.Load(strings.NewReader(tc.doc))
			if !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrBadState saying %q", err, tc.want)
			}
			if fresh.Len() != 0 || fresh.ChangeSeq() != 0 {
				t.Errorf("after a failed load: got %d customers, change seq %d; want none", fresh.Len(), fresh.ChangeSeq())
			}
			if err := fresh.Load(strings.NewReader(good)); err != nil || fresh.Len() != 3 {
				t.Errorf("then the good document: got %v, %d customers; want 3", err, fresh.Len())
			}
		})
	}

	t.Run("reader error", func(t *testing.T) {
		fresh, _ := New(Options{})
		boom := errors.New("disk on fire")
		err := fresh.Load(iotest.ErrReader(boom))
		if !errors.Is(err, boom) || errors.Is(err, ErrBadState) {
			t.Errorf("got %v, want the reader's error, not ErrBadState", err)
		}
	})
	t.Run("not empty", func(t *testing.T) {
		err := sim.Load(strings.NewReader(good))
		if !errors.Is(err, ErrNotEmpty) || sim.Len() != 3 {
			t.Errorf("got %v with %d customers, want ErrNotEmpty and the 3 customers kept", err, sim.Len())
		}
	})
}

// TestPersistSaveError checks that Save reports its writer's error.
func TestPersistSaveError(t *testing.T) {
	sim, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	sim.Seed(2000) // more than the save's buffer
	boom := errors.New("disk full")
	if err := sim.Save(failingWriter{boom}); !errors.Is(err, boom) {
		t.Errorf("got %v, want the writer's error", err)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

// BenchmarkPersist saves and loads a million seeded customers.
func BenchmarkPersist(b *testing.B) {
	const n = 1_000_000
	sim, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	sim.Seed(n)
	var doc bytes.Buffer
	b.Run("save", func(b *testing.B) {
		for b.Loop() {
			doc.Reset()
			if err := sim.Save(&doc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(doc.Len())/n, "bytes/customer")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/customer")
	})
	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			fresh, err := New(Options{})
			if err != nil {
				b.Fatal(err)
			}
			if err := fresh.Load(bytes.NewReader(doc.Bytes())); err != nil || fresh.Len() != n {
				b.Fatalf("got %v, %d customers", err, fresh.Len())
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/customer")
	})
}
