package client

import (
	"encoding/json"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestCustomerLine(t *testing.T) {
	last, archived := "Lovelace", "2026-11-27T10:00:00Z"
	tests := []struct {
		name string
		c    Customer
		want string
	}{
		{"full", Customer{ID: "cus_1", FirstName: "Ada", LastName: &last, Phone: "5550100", PhoneCountryCalling: "1", Email: "ada@example.com"},
			"cus_1  Ada Lovelace  +1 5550100  ada@example.com"},
		{"bare", Customer{ID: "cus_2", FirstName: "Bo"}, "cus_2  Bo"},
		{"archived", Customer{ID: "cus_3", FirstName: "Cy", ArchivedAt: &archived}, "cus_3  Cy      (archived)"},
		{"escape", Customer{ID: "cus_4", FirstName: "\x1b[31mEve"}, "cus_4  ?[31mEve"},
	}
	var page Page
	want := ""
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Line(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
		page.Items, want = append(page.Items, tt.c), want+tt.want+"\n"
	}
	if got := page.Text(); got != want {
		t.Errorf("Page.Text: got %q, want %q", got, want)
	}
}

func TestFoundText(t *testing.T) {
	asOf := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	got, err := Found{Customer: json.RawMessage(`{"id":"cus_1"}`), Source: "crm", AsOf: asOf}.Text("cus_1")
	want := "customer cus_1 from the CRM as of " + asOf.Local().Format(time.DateTime) + "\n{\n  \"id\": \"cus_1\"\n}\n"
	if err != nil || got != want {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	if _, err := (Found{Customer: json.RawMessage(`{`)}).Text("cus_1"); err == nil {
		t.Error("got no error for a record that is not JSON")
	}
	reply := []byte(`{"customer":{"id":"cus_1"},"source":"crm","asOf":"2026-11-27T10:00:00Z"}`)
	if got, err := FoundText(reply, "cus_1"); err != nil || got != want {
		t.Errorf("FoundText: got %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{`[`, `{"source":1}`} {
		if _, err := FoundText([]byte(bad), "cus_1"); err == nil || !strings.HasPrefix(err.Error(), "unreadable ") {
			t.Errorf("FoundText(%s): got %v, want unreadable", bad, err)
		}
	}
}

func TestReadPage(t *testing.T) {
	page, err := ReadPage([]byte(`{"items":[{"id":"cus_1","firstName":"Ada"}],"next":"c2"}`))
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != "cus_1" || page.Next != "c2" {
		t.Errorf("got %+v, %v; want cus_1 and next c2", page, err)
	}
	if _, err := ReadPage([]byte(`{"items":{}}`)); err == nil || !strings.HasPrefix(err.Error(), "unreadable reply: ") {
		t.Errorf("got %v, want unreadable reply", err)
	}
}

func TestRegisterFlags(t *testing.T) {
	vars := map[string]string{"BRIDGE_NATS_URL": "nats://a:4222", "BRIDGE_NATS_PASSWORD": "s3cret", "BRIDGE_SUBJECT_PREFIX": "acme"}
	var c Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.RegisterFlags(fs, func(k string) string { return vars[k] })
	if err := fs.Parse([]string{"--nats-user", "bob", "--timeout", "2s"}); err != nil {
		t.Fatal(err)
	}
	want := Config{URL: "nats://a:4222", User: "bob", Password: "s3cret", Prefix: "acme", Timeout: 2 * time.Second}
	if c != want {
		t.Errorf("got %+v, want %+v", c, want)
	}
	if f := fs.Lookup("nats-password"); f.DefValue != "" {
		t.Errorf("the password's default %q is shown in the usage", f.DefValue)
	}
}
