package crm

import (
	"encoding/json"
	"testing"
)

// FuzzContactAgrees checks Contact against json.Unmarshal into a struct of
// phone and email, which it replaces in the queries' index: the same
// values, and an error exactly when json.Unmarshal gives one.
func FuzzContactAgrees(f *testing.F) {
	for _, s := range []string{
		record,
		`{"id":"a","phone":"+15550100","email":"a@b.c"}`,
		`{"phone":null,"email":null}`,
		`{"phone":"1","phone":"2","Email":"x"}`,
		`{"PHONE":"1"}`, `{"ph\u006fne":"1"}`, `{"phöne":"1"}`,
		`{"phone":"\u0031\n","email":"\ud800"}`,
		"{\"phone\":\"\xff\"}",
		`{"phone":1,"email":"a"}`, `{"email":["a"]}`, `{"phone":true}`,
		`{"nested":{"phone":"9"},"phone":"1"}`,
		`[]`, `null`, `"x"`, ``, `{`, `{"phone":"1"} x`, `{}`,
		` { "phone" : "1" , "email" : "e" } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		phone, email, err := Contact(rec)
		var c struct {
			Phone string `json:"phone"`
			Email string `json:"email"`
		}
		wantErr := json.Unmarshal(rec, &c)
		if (err == nil) != (wantErr == nil) || phone != c.Phone || email != c.Email {
			t.Fatalf("got %q %q %v, want %q %q %v", phone, email, err, c.Phone, c.Email, wantErr)
		}
	})
}

// BenchmarkContact reads the phone and email of a CRM record, as the
// queries' index does for each read model entry.
func BenchmarkContact(b *testing.B) {
	rec := []byte(record)
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := Contact(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var c struct {
				Phone string `json:"phone"`
				Email string `json:"email"`
			}
			if err := json.Unmarshal(rec, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
