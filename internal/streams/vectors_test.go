package streams

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gormic/crm-bridge/schemas"
)

// tokenVectors is schemas/subject-tokens.json.
type tokenVectors struct {
	Valid []struct {
		ID, Token, Note string
	}
	Invalid []struct {
		Token, Reason, Canonical string
	}
}

func readTokenVectors(t testing.TB) tokenVectors {
	t.Helper()
	data, err := schemas.Files.ReadFile("subject-tokens.json")
	if err != nil {
		t.Fatal(err)
	}
	var v tokenVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("subject-tokens.json: %v", err)
	}
	if len(v.Valid) == 0 || len(v.Invalid) == 0 {
		t.Fatalf("subject-tokens.json: got %d valid and %d invalid vectors, want some of each", len(v.Valid), len(v.Invalid))
	}
	return v
}

// TestTokenVectors checks the encoder and the decoder, and the subjects
// built and parsed with them, against the published test vectors.
func TestTokenVectors(t *testing.T) {
	v := readTokenVectors(t)
	s := Subjects{Prefix: "crm"}
	for _, tc := range v.Valid {
		t.Run("valid "+tc.Note, func(t *testing.T) {
			if got := EncodeToken(tc.ID); got != tc.Token {
				t.Errorf("EncodeToken(%q): got %q, want %q", tc.ID, got, tc.Token)
			}
			if got, err := DecodeToken(tc.Token); err != nil || got != tc.ID {
				t.Errorf("DecodeToken(%q): got %q, %v; want %q", tc.Token, got, err, tc.ID)
			}
			for subject, want := range map[string]string{
				s.Update(tc.ID):  "crm.customer.update." + tc.Token,
				s.Delete(tc.ID):  "crm.customer.delete." + tc.Token,
				s.Changed(tc.ID): "crm.customer.changed." + tc.Token,
			} {
				if subject != want {
					t.Errorf("subject: got %q, want %q", subject, want)
				}
			}
			if op, id, err := s.ParseCommand(s.Update(tc.ID)); err != nil || op != OpUpdate || id != tc.ID {
				t.Errorf("ParseCommand: got %q %q %v, want update %q", op, id, err, tc.ID)
			}
		})
	}
	for _, tc := range v.Invalid {
		t.Run("invalid "+tc.Reason, func(t *testing.T) {
			if got, err := DecodeToken(tc.Token); err == nil {
				t.Fatalf("DecodeToken(%q): got %q, want an error (%s)", tc.Token, got, tc.Reason)
			} else if got, want := errors.Is(err, ErrNotCanonical), tc.Canonical != ""; got != want {
				t.Errorf("DecodeToken(%q): got %v (ErrNotCanonical %t), want ErrNotCanonical %t", tc.Token, err, got, want)
			}
			if tc.Canonical != "" {
				if _, err := DecodeToken(tc.Canonical); err != nil {
					t.Errorf("canonical %q: got %v, want it valid", tc.Canonical, err)
				}
			}
			subject := "crm.customer.delete." + tc.Token
			_, _, err := s.ParseCommand(subject)
			if !errors.Is(err, ErrBadSubject) {
				t.Fatalf("ParseCommand(%q): got %v, want ErrBadSubject", subject, err)
			}
			if want := "crm.customer.delete." + tc.Canonical; tc.Canonical != "" && !strings.Contains(err.Error(), "publish to "+want) {
				t.Errorf("ParseCommand(%q): got %q, want it to name %s", subject, err, want)
			}
		})
	}
}
