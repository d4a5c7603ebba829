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
	for _, tok := range []string{"", "%", "%2", "%zz", "a%2", "%00%", "a b", "%FF", "%C3", "a%2eb", "%41"} {
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
		{name: "lower-case escape", subject: "crm.customer.update.a%2eb", bad: true},
		{name: "escape of a byte that needs none", subject: "crm.customer.delete.%41", bad: true},
		{name: "empty token", subject: "crm.customer.delete.", bad: true},
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

// FuzzTokenRoundTrip checks both directions with each input: as an id,
// decode(encode(id)) == id and the token holds no byte NATS forbids; as a
// token, every token DecodeToken accepts is the one EncodeToken writes for
// its id (one token per id), and the published vectors are the seeds.
func FuzzTokenRoundTrip(f *testing.F) {
	for _, s := range []string{"cus_1", "a.b", "*>", "%", " ", "ü", "a%2eb", "%41", "%C3%A9"} {
		f.Add(s)
	}
	v := readTokenVectors(f)
	for _, tc := range v.Valid {
		f.Add(tc.ID)
		f.Add(tc.Token)
	}
	for _, tc := range v.Invalid {
		f.Add(tc.Token)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := EncodeToken(s)
		for i := 0; i < len(tok); i++ {
			if needsEscape(tok[i]) && tok[i] != '%' {
				t.Fatalf("EncodeToken(%q) = %q holds %q", s, tok, tok[i])
			}
		}
		back, err := DecodeToken(tok)
		if s == "" || !isUTF8(s) {
			if err == nil {
				t.Fatalf("DecodeToken(%q) accepted an id that is empty or not UTF-8", tok)
			}
		} else if err != nil || back != s {
			t.Fatalf("round trip of %q: got %q, %v", s, back, err)
		}
		if id, err := DecodeToken(s); err == nil {
			if again := EncodeToken(id); again != s {
				t.Fatalf("DecodeToken(%q) accepted a token that is not canonical: %q is written %q", s, id, again)
			}
		}
	})
}

func isUTF8(s string) bool { return utf8.ValidString(s) }
