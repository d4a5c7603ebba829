package streams

import (
	"errors"
	"testing"
	"unicode/utf8"
)

func TestEncodeToken(t *testing.T) {
	tests := []struct {
		name, id, want string
	}{
		{"plain id unchanged", "cus_123", "cus_123"},
		{"dot", "a.b", "a%2Eb"},
		{"star", "a*", "a%2A"},
		{"greater", ">", "%3E"},
		{"percent", "50%", "50%25"},
		{"space", "a b", "a%20b"},
		{"tab and newline", "a\tb\n", "a%09b%0A"},
		{"non-ASCII kept", "kundé", "kundé"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EncodeToken(tt.id)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			back, err := DecodeToken(got)
			if err != nil || back != tt.id {
				t.Errorf("round trip: got %q, %v; want %q", back, err, tt.id)
			}
		})
	}
}

func TestDecodeTokenRejects(t *testing.T) {
	for _, tok := range []string{"", "%", "%2", "%zz", "a%2", "%00%", "a b", "%FF", "%C3"} {
		t.Run(tok, func(t *testing.T) {
			if got, err := DecodeToken(tok); err == nil {
				t.Errorf("got %q, want an error", got)
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	s := Subjects{Prefix: "crm"}
	tests := []struct {
		name, subject, op, id string
		bad                   bool
	}{
		{name: "create", subject: "crm.customer.create", op: OpCreate},
		{name: "update", subject: "crm.customer.update.cus_1", op: OpUpdate, id: "cus_1"},
		{name: "delete encoded", subject: "crm.customer.delete.a%2Eb", op: OpDelete, id: "a.b"},
		{name: "create with id", subject: "crm.customer.create.x", bad: true},
		{name: "update without id", subject: "crm.customer.update", bad: true},
		{name: "update two tokens", subject: "crm.customer.update.a.b", bad: true},
		{name: "bad escape", subject: "crm.customer.update.%zz", bad: true},
		{name: "other prefix", subject: "acme.customer.create", bad: true},
		{name: "unknown op", subject: "crm.customer.merge.x", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, id, err := s.ParseCommand(tt.subject)
			if tt.bad {
				if !errors.Is(err, ErrBadSubject) {
					t.Errorf("got %q %q %v, want ErrBadSubject", op, id, err)
				}
				return
			}
			if err != nil || op != tt.op || id != tt.id {
				t.Errorf("got %q %q %v, want %q %q", op, id, err, tt.op, tt.id)
			}
		})
	}
	if got, want := s.Update("a.b"), "crm.customer.update.a%2Eb"; got != want {
		t.Errorf("Update: got %q, want %q", got, want)
	}
}

func FuzzTokenRoundTrip(f *testing.F) {
	for _, s := range []string{"cus_1", "a.b", "*>", "%", " ", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		tok := EncodeToken(id)
		for i := 0; i < len(tok); i++ {
			if needsEscape(tok[i]) && tok[i] != '%' {
				t.Fatalf("EncodeToken(%q) = %q holds %q", id, tok, tok[i])
			}
		}
		back, err := DecodeToken(tok)
		if id == "" || !isUTF8(id) {
			if err == nil {
				t.Fatalf("DecodeToken(%q) accepted an id that is empty or not UTF-8", tok)
			}
			return
		}
		if err != nil || back != id {
			t.Fatalf("round trip of %q: got %q, %v", id, back, err)
		}
	})
}

func isUTF8(s string) bool { return utf8.ValidString(s) }
