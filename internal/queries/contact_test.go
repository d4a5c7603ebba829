package queries

import (
	"encoding/json"
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
