package crmsim

import (
	"encoding/json"
	"regexp"
	"slices"
	"testing"
	"time"
)

// TestOperations runs each of the six operations once, valid, and checks
// the records the CRM makes.
func TestOperations(t *testing.T) {
	clk := newClock()
	h := start(t, Options{Now: clk.Now})

	id := h.create(map[string]any{
		"firstName": "Ada", "lastName": nil, "phone": "020 7946 0000", "phoneCallingCode": "+44",
		"gender": "F", "internalNote": nil, "cityId": "city_1", "unsubscribed": false,
	})
	if !regexp.MustCompile(`^cus_[0-9a-hjkmnp-tv-z]{20}$`).MatchString(id) {
		t.Errorf("id %q: want cus_ and 20 base32 characters", id)
	}

	a := h.call("GET", "/v1/crm/customers/"+id, nil, nil)
	mustValidRequest(t, a)
	checkDoc(t, a, docValid)
	var got struct{ User map[string]any }
	if err := json.Unmarshal(a.envelope(t).Data, &got); err != nil {
		t.Fatal(err)
	}
	created := clk.Now().Format(time.RFC3339)
	for field, want := range map[string]any{
		"id": id, "firstName": "Ada", "lastName": nil, "phone": "020 7946 0000",
		"phoneCountry": "GB", "phoneCountryCalling": "44", "number": "100001",
		"cityId": "city_1", "birthDate": nil, "unsubscribed": false, "internalNote": nil,
		"archivedAt": nil, "archivedBy": nil, "archivedVia": nil,
		"createdAt": created, "updatedAt": created, "createdVia": "api", "updatedVia": "api",
		"createdBy": apiUser("key-1"), "updatedBy": apiUser("key-1"),
	} {
		v, present := got.User[field]
		if !present || v != want {
			t.Errorf("%s: got %v (present %v), want %v", field, v, present, want)
		}
	}
	if g, _ := json.Marshal(got.User["gender"]); string(g) != `{"code":"F"}` {
		t.Errorf("gender: got %s, want {\"code\":\"F\"}", g)
	}

	clk.Advance(time.Minute)
	a = h.call("PATCH", "/v1/crm/customers/"+id, map[string]any{"params": map[string]any{"id": id, "email": "ada@example.com", "cityId": nil}}, nil)
	mustValidRequest(t, a)
	if a.status != 200 {
		t.Fatalf("update: got %d %s, want 200", a.status, a.body)
	}
	checkDoc(t, a, docValid)
	c, _ := h.sim.Customer(id)
	if c.Email != "ada@example.com" || c.CityID != nil || c.UpdatedAt != clk.Now().Format(time.RFC3339) || c.CreatedAt != created {
		t.Errorf("after update: got email %q cityId %v updatedAt %s createdAt %s", c.Email, c.CityID, c.UpdatedAt, c.CreatedAt)
	}

	a = h.call("GET", "/v1/crm/customers", nil, nil)
	mustValidRequest(t, a)
	checkDoc(t, a, docValid)
	var list page
	if err := json.Unmarshal(a.envelope(t).Data, &list); err != nil || len(list.Users) != 1 || list.Next != nil {
		t.Errorf("list: got %s (%v), want one user and no next", a.body, err)
	}

	exp := h.export("?updatedSince=" + created)
	if len(exp.Items) != 1 || exp.Items[0]["email"] != "ada@example.com" || exp.Next != nil {
		t.Errorf("export: got %+v, want the updated customer and no next", exp)
	}

	a = h.call("DELETE", "/v1/crm/customers/"+id, nil, nil)
	mustValidRequest(t, a)
	if a.status != 200 {
		t.Fatalf("delete: got %d %s, want 200", a.status, a.body)
	}
	checkDoc(t, a, docValid)
	if h.sim.Len() != 0 {
		t.Errorf("after delete: got %d customers, want 0", h.sim.Len())
	}

	var ops []ChangeOp
	for _, c := range h.sim.Changes() {
		ops = append(ops, c.Op)
		if c.Via != "api" || c.CustomerID != id || c.RequestID == "" {
			t.Errorf("change %+v: want via api, customer %s, a request id", c, id)
		}
	}
	if want := []ChangeOp{ChangeCreate, ChangeUpdate, ChangeDelete}; !slices.Equal(ops, want) {
		t.Errorf("changes: got %v, want %v", ops, want)
	}
	if p := string(h.sim.Changes()[1].Params); p != `{"cityId":null,"email":"ada@example.com","id":"`+id+`"}` {
		t.Errorf("update params: got %s", p)
	}
	for _, op := range []Operation{OpCreate, OpGet, OpUpdate, OpList, OpExport, OpDelete} {
		if n := h.sim.Stats()[StatKey{op, 200}]; n != 1 {
			t.Errorf("stats %s 200: got %d, want 1", op, n)
		}
	}
}

// TestEnvelope checks the envelope and that request ids are unique.
func TestEnvelope(t *testing.T) {
	h := start(t, Options{App: "crm", InstanceID: "i-1"})
	seen := map[string]bool{}
	for range 5 {
		a := h.call("GET", "/v1/crm/customers", nil, nil)
		e := a.envelope(t)
		if e.App != "crm" || e.Service != "customers" || e.InstanceID != "i-1" || e.Warnings == nil {
			t.Errorf("envelope: got %s", a.body)
		}
		if seen[e.RequestID] || e.RequestID == "" || a.header.Get("X-Request-Id") != e.RequestID {
			t.Errorf("request id %q: want unique, non-empty, also in X-Request-Id", e.RequestID)
		}
		seen[e.RequestID] = true
	}
}
