package queries

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzReadContact holds readContact to json.Unmarshal into a contact.
func FuzzReadContact(f *testing.F) {
	for _, s := range []string{
		`{"id":"cus_1","phone":"+1 555 0100","email":"A@Example.com","gender":{"code":"F"}}`,
		`{"PHONE":"1","Email":null,"phone":"2"}`,
		`{"phone":12}`, `{"pho\u006ee":"x"}`, `{"phone":"a\"b"}`, "{\"phone\":\"\xff\"}",
		`null`, `[1]`, `{"phone":"1"`, ` { "email" : "x" } `, `"s"`, `{"phone":{"a":1},"email":"e"}`,
		"{\"\u212aphone\":\"k\",\"ſmail\":\"s\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want contact
		wantErr := json.Unmarshal(b, &want)
		got, err := readContact(b)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: error %v, json.Unmarshal's %v", b, err, wantErr)
		}
		if got != want {
			t.Fatalf("%q: got %+v, json.Unmarshal's %+v", b, got, want)
		}
	})
}

// TestReadContactDepth holds readContact to json.Unmarshal at the edge of
// encoding/json's nesting limit, reached inside a member's value.
func TestReadContactDepth(t *testing.T) {
	for _, depth := range []int{9998, 9999, 10000} {
		b := []byte(`{"phone":"1","x":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `,"email":"e"}`)
		var want contact
		wantErr := json.Unmarshal(b, &want)
		got, err := readContact(b)
		if (err != nil) != (wantErr != nil) || got != want {
			t.Errorf("arrays %d deep in a member: got %+v, %v; json.Unmarshal's %+v, %v", depth, got, err, want, wantErr)
		}
	}
}

// BenchmarkReadContact reads a record of the CRM's usual fields, as the
// watch does for each record the model stores.
func BenchmarkReadContact(b *testing.B) {
	record := []byte(`{"id":"cus_01HZX3K9QW","firstName":"Marie","lastName":"Dupont",` +
		`"email":"marie.dupont@example.com","phone":"+33612345678","phoneCountry":"FR",` +
		`"phoneCountryCalling":"33","number":"C-000123","cityId":"city_75056",` +
		`"birthDate":"1988-04-12","gender":{"code":"F"},"unsubscribed":false,` +
		`"internalNote":null,"archivedAt":null,"archivedBy":null,"archivedVia":null,` +
		`"createdAt":"2024-02-01T09:30:00Z","createdVia":"api","createdBy":"usr_admin",` +
		`"updatedAt":"2026-11-27T10:00:00Z","updatedVia":"backoffice","updatedBy":"usr_42"}`)
	b.SetBytes(int64(len(record)))
	for b.Loop() {
		if _, err := readContact(record); err != nil {
			b.Fatal(err)
		}
	}
}
