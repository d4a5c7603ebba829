package schemas_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/crmsim/simtest"
	"github.com/gormic/crm-bridge/internal/crmspec"
	"github.com/gormic/crm-bridge/schemas"
)

// readSchema returns the schema file of name, decoded.
func readSchema(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := schemas.Files.ReadFile(name + ".schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestCustomerIsUserMap checks customer.schema.json against the CRM's
// OpenAPI document: the same properties, each of the same type (nullable
// there is a type array with "null" here), and the same required names.
func TestCustomerIsUserMap(t *testing.T) {
	doc, err := crmspec.Load()
	if err != nil {
		t.Fatal(err)
	}
	ref := doc.Components.Schemas["UserMap"]
	if ref == nil || ref.Value == nil {
		t.Fatal("the OpenAPI document has no UserMap")
	}
	um := ref.Value
	sch := readSchema(t, schemas.Customer)
	props, _ := sch["properties"].(map[string]any)
	for name, p := range um.Properties {
		want := any(p.Value.Type.Slice()[0])
		if p.Value.Nullable {
			want = []any{want, "null"}
		}
		got, _ := props[name].(map[string]any)
		if got == nil {
			t.Errorf("property %s: got none, want type %v (UserMap has it)", name, want)
			continue
		}
		if !reflect.DeepEqual(got["type"], want) {
			t.Errorf("property %s: got type %v, want %v", name, got["type"], want)
		}
	}
	for name := range props {
		if _, ok := um.Properties[name]; !ok {
			t.Errorf("property %s: got it, want only UserMap's properties", name)
		}
	}
	var required []string
	for _, r := range sch["required"].([]any) {
		required = append(required, r.(string))
	}
	slices.Sort(required)
	want := slices.Sorted(slices.Values(um.Required))
	if !slices.Equal(required, want) {
		t.Errorf("required: got %q, want %q", required, want)
	}
}

// TestEventEmbedsCustomer checks that the event schema's customer (its
// $defs, since each schema is self-contained) is customer.schema.json.
func TestEventEmbedsCustomer(t *testing.T) {
	customer := readSchema(t, schemas.Customer)
	defs, _ := readSchema(t, schemas.Event)["$defs"].(map[string]any)
	embedded, _ := defs["customer"].(map[string]any)
	for _, k := range []string{"description", "type", "required", "properties"} {
		if !reflect.DeepEqual(embedded[k], customer[k]) {
			t.Errorf("event.schema.json $defs.customer.%s: got %v, want customer.schema.json's %v", k, embedded[k], customer[k])
		}
	}
	if len(embedded) != 4 {
		t.Errorf("event.schema.json $defs.customer: got keys %v, want those four only", slices.Sorted(mapKeys(embedded)))
	}
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestSimulatorRecords validates what the simulator answers over HTTP
// (get and the export) against customer.schema.json: seeded customers,
// one with every field, one archived, both genders.
func TestSimulatorRecords(t *testing.T) {
	sim := simtest.Start(t, crmsim.Options{APIKey: "k", OrgID: "o", PageSize: 4})
	sim.Seed(20)
	c, err := crm.New(crm.Config{BaseURL: sim.URL(), APIKey: "k", OrgID: "o"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := func(v string) *string { return &v }
	full, err := c.Create(ctx, crm.CreateParams{FirstName: "Ada", Phone: "+1 555 0100", LastName: crm.Some("Lovelace"),
		Email: s("ada@example.com"), Gender: s("F"), BirthDate: s("1815-12-10"), CityID: s("c-1"), InternalNote: crm.Some("vip")})
	if err != nil {
		t.Fatal(err)
	}
	archived, err := c.Create(ctx, crm.CreateParams{FirstName: "Bo", Phone: "555 0101", Gender: s("M")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Archive(archived); err != nil {
		t.Fatal(err)
	}

	var records []json.RawMessage
	for _, id := range []string{full, archived} {
		got, err := c.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, got.Raw)
	}
	for page, err := range c.Export(ctx, time.Time{}) {
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			records = append(records, item.Raw)
		}
	}
	if len(records) != 2+22 {
		t.Fatalf("got %d records, want 24 (2 gets, 22 exported)", len(records))
	}
	seen := map[string]bool{}
	for _, r := range records {
		if err := schemas.Validate(schemas.Customer, r); err != nil {
			t.Errorf("record %s: got %v, want it valid", r, err)
		}
		for _, want := range []string{`"gender":{"code":"F"}`, `"gender":{"code":"M"}`, `"archivedAt":"`, `"cityId":"c-1"`} {
			if strings.Contains(string(r), want) {
				seen[want] = true
			}
		}
	}
	if len(seen) != 4 {
		t.Errorf("records show %v, want each of gender F, gender M, archivedAt, cityId", seen)
	}
}
