package crmsim

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
)

// TestOutOfBand makes each out-of-band change and checks the records and
// the change log.
func TestOutOfBand(t *testing.T) {
	clk := newClock()
	h := start(t, Options{Now: clk.Now})
	sim := h.sim

	c, err := sim.CreateCustomer(crm.CreateParams{FirstName: "Ada", Phone: "+44 20 7946 0000", LastName: crm.Some("Lovelace")})
	if err != nil {
		t.Fatal(err)
	}
	if c.CreatedVia != "ui" || c.CreatedBy != uiUser || c.PhoneCountry != "GB" || c.PhoneCountryCalling != "44" {
		t.Errorf("created: got %+v", c)
	}
	if _, err := sim.CreateCustomer(crm.CreateParams{FirstName: "B", Phone: "+442079460000"}); !errors.Is(err, ErrDuplicatePhone) {
		t.Errorf("duplicate: got %v, want ErrDuplicatePhone", err)
	}

	clk.Advance(time.Second)
	c, err = sim.UpdateCustomer(c.ID, func(c *crm.Customer) {
		c.Email = "ada@example.com"
		c.LastName = nil
		c.Gender = json.RawMessage(`"F"`)
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Email != "ada@example.com" || c.LastName != nil || string(c.Gender) != `{"code":"F"}` || c.UpdatedVia != "ui" ||
		c.UpdatedAt != clk.Now().Format(time.RFC3339) {
		t.Errorf("updated: got %+v", c)
	}
	if string(mustField(t, c.Raw, "lastName")) != "null" {
		t.Errorf("raw: got %s, want lastName null", c.Raw)
	}
	if _, err := sim.UpdateCustomer(c.ID, func(*crm.Customer) {}); !errors.Is(err, ErrNoChanges) {
		t.Errorf("no change: got %v, want ErrNoChanges", err)
	}
	if _, err := sim.UpdateCustomer("cus_missing", func(*crm.Customer) {}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: got %v, want ErrNotFound", err)
	}

	clk.Advance(time.Second)
	before := c
	if c, err = sim.Touch(c.ID); err != nil {
		t.Fatal(err)
	}
	if c.UpdatedAt == before.UpdatedAt || c.Email != before.Email {
		t.Errorf("touch: got updatedAt %s (was %s)", c.UpdatedAt, before.UpdatedAt)
	}

	clk.Advance(time.Second)
	if c, err = sim.Archive(c.ID); err != nil {
		t.Fatal(err)
	}
	if c.ArchivedAt == nil || *c.ArchivedAt != clk.Now().Format(time.RFC3339) || *c.ArchivedVia != "ui" {
		t.Errorf("archive: got %+v", c)
	}
	if got := h.exportAll("", nil); len(got) != 1 {
		t.Errorf("export after archive: got %v, want the archived customer", got)
	}
	// an archived customer's phone is free again
	if _, err := sim.CreateCustomer(crm.CreateParams{FirstName: "B", Phone: "+442079460000"}); err != nil {
		t.Errorf("create with an archived customer's phone: %v", err)
	}

	if err := sim.Delete(c.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := sim.Customer(c.ID); ok || sim.Len() != 1 {
		t.Errorf("after delete: customer still there, or Len %d", sim.Len())
	}
	if err := sim.Delete(c.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete twice: got %v, want ErrNotFound", err)
	}

	var ops []ChangeOp
	for i, ch := range sim.Changes() {
		ops = append(ops, ch.Op)
		if ch.Seq != uint64(i+1) || ch.Via != "ui" || ch.Params != nil {
			t.Errorf("change %d: got %+v", i, ch)
		}
	}
	want := []ChangeOp{ChangeCreate, ChangeUpdate, ChangeTouch, ChangeArchive, ChangeCreate, ChangeDelete}
	if !slices.Equal(ops, want) {
		t.Errorf("changes: got %v, want %v", ops, want)
	}
}

// TestDeleteArchive checks the API delete in archive mode.
func TestDeleteArchive(t *testing.T) {
	h := start(t, Options{DeleteMode: DeleteArchive})
	id := h.create(map[string]any{"firstName": "A", "phone": "+15550100001"})
	for range 2 { // the second changes nothing
		if a := h.call("DELETE", "/v1/crm/customers/"+id, nil, nil); a.status != 200 {
			t.Fatalf("delete: got %d %s, want 200", a.status, a.body)
		}
	}
	a := h.call("GET", "/v1/crm/customers/"+id, nil, nil)
	checkDoc(t, a, docValid)
	c, ok := h.sim.Customer(id)
	if !ok || c.ArchivedAt == nil || *c.ArchivedVia != "api" || *c.ArchivedBy != apiUser("key-1") {
		t.Errorf("got %+v, want archived via api", c)
	}
	if n := len(h.sim.Changes()); n != 2 {
		t.Errorf("changes: got %d, want 2 (create, archive)", n)
	}
}

// TestNullables checks that null clears a nullable field and that nulls
// are sent explicitly.
func TestNullables(t *testing.T) {
	h := start(t, Options{})
	id := h.create(map[string]any{"firstName": "A", "phone": "+15550100001", "lastName": "L", "internalNote": "n", "cityId": "c"})
	a := h.call("PATCH", "/v1/crm/customers/"+id, `{"params":{"id":"`+id+`","cityId":null,"internalNote":null}}`, nil)
	if a.status != 200 {
		t.Fatalf("update: got %d %s", a.status, a.body)
	}
	a = h.call("PATCH", "/v1/crm/customers/"+id, `{"params":{"id":"`+id+`","cityId":null}}`, nil)
	if a.status != 400 || a.code() != crm.CodeNoChanges {
		t.Errorf("clearing again: got %d %s, want NoChanges", a.status, a.body)
	}
	a = h.call("PATCH", "/v1/crm/customers/"+id, `{"params":{"id":"`+id+`","lastName":null}}`, nil)
	if a.status != 400 || a.code() != "BAD_REQUEST" {
		t.Errorf("lastName null on update: got %d %s, want 400 BAD_REQUEST", a.status, a.body)
	}
	c, _ := h.sim.Customer(id)
	for _, f := range []string{"cityId", "internalNote", "birthDate", "unsubscribed", "archivedAt"} {
		if got := string(mustField(t, c.Raw, f)); got != "null" {
			t.Errorf("%s: got %s, want an explicit null", f, got)
		}
	}
	if c.LastName == nil || *c.LastName != "L" {
		t.Errorf("lastName: got %v, want L", c.LastName)
	}
}

// mustField returns a field of a JSON object, or fails the test when the
// field is absent.
func mustField(t *testing.T, raw json.RawMessage, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	v, ok := m[name]
	if !ok {
		t.Fatalf("%s absent from %s", name, raw)
	}
	return v
}
