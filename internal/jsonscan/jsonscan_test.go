package jsonscan

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// member is what a walk finds of one member: its decoded name and its
// value's bytes.
type member struct{ name, value string }

// scanMembers walks the object text with Members.
func scanMembers(b []byte) []member {
	var out []member
	ms := Object(b, Space(b, 0))
	for m, ok := ms.Next(); ok; m, ok = ms.Next() {
		out = append(out, member{Unquote(b[m.Name:m.NameEnd]), string(b[m.Value:m.End])})
		if want := bytes.IndexByte(b[m.Name:m.NameEnd], '\\') >= 0; m.Escaped != want {
			panic("Escaped is wrong")
		}
		if want := b[m.Value] == '"' && bytes.IndexByte(b[m.Value:m.End], '\\') >= 0; m.ValueEscaped != want {
			panic("ValueEscaped is wrong")
		}
	}
	return out
}

// decodeMembers walks the object text with encoding/json's Decoder.
func decodeMembers(t *testing.T, b []byte) []member {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
		out = append(out, member{tok.(string), string(raw)})
	}
	return out
}

var objects = []string{
	`{}`,
	` { } `,
	`{"a":1}`,
	"{ \"a\" :\t\"x\" ,\r\n \"b\": [ 1, {\"c\":null} ] , \"d\":true,\"e\":false,\"f\":-1.5e+3}",
	`{"q\"":"]}\"{[","\\":"\\\\","a\u0062":"\u00e9\ud83d\ude42","":{}}`,
	`{"deep":` + strings.Repeat(`[{"a":"]}"},`, 300) + `1` + strings.Repeat(`]`, 300) + `,"after":2}`,
	`{"dup":1,"dup":{"dup":[]},"Dup":"x"}`,
	`{"s":"` + strings.Repeat(`\\`, 7) + `\"","t":"` + strings.Repeat(`\\`, 8) + `"}`,
}

func TestMembersAsEncodingJSON(t *testing.T) {
	for _, o := range objects {
		b := []byte(o)
		if !json.Valid(b) {
			t.Fatalf("%q: not valid JSON", o)
		}
		got, want := scanMembers(b), decodeMembers(t, b)
		if !slices.Equal(got, want) {
			t.Errorf("%.60q:\ngot  %q\nwant %q", o, got, want)
		}
	}
}

func TestElements(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{`[]`, nil},
		{` [ ] `, nil},
		{`[1]`, []string{`1`}},
		{"[ {\"a\":\"]\"} ,\n[1,[2]],\"x\\\"\", null,true , -0.5 ]", []string{`{"a":"]"}`, `[1,[2]]`, `"x\""`, `null`, `true`, `-0.5`}},
	}
	for _, tt := range tests {
		b := []byte(tt.text)
		var got []string
		es := Array(b, Space(b, 0))
		for start, end, ok := es.Next(); ok; start, end, ok = es.Next() {
			got = append(got, string(b[start:end]))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: got %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestUnquote(t *testing.T) {
	tests := []struct{ lit, want string }{
		{`""`, ""},
		{`"abc"`, "abc"},
		{`"a\"b\\c\/\n\u00e9\ud83d\ude42"`, "a\"b\\c/\né🙂"},
		{`"\ud800"`, "\ufffd"},
		{`x`, "x"}, // not a literal
	}
	for _, tt := range tests {
		if got := Unquote([]byte(tt.lit)); got != tt.want {
			t.Errorf("Unquote(%s): got %q, want %q", tt.lit, got, tt.want)
		}
	}
}

// FuzzMembers: on a valid JSON object the walk finds what encoding/json's
// Decoder finds; on any bytes it neither panics nor loops.
func FuzzMembers(f *testing.F) {
	for _, o := range objects {
		f.Add([]byte(o))
	}
	for _, s := range []string{``, `{`, `{"`, `{"a`, `{"a":`, `{"a":[`, `{"a":"\`, `{,}`, `{"a"1}`, `[`, `[,`, `["\\"`, `}`, `{"a":}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		members := scanMembers(b)
		es := Array(b, Space(b, 0))
		for _, _, ok := es.Next(); ok; _, _, ok = es.Next() {
		}
		_ = Value(b, 0)
		if !json.Valid(b) || Space(b, 0) == len(b) || b[Space(b, 0)] != '{' {
			return
		}
		if want := decodeMembers(t, b); !slices.Equal(members, want) {
			t.Errorf("got %q, want %q", members, want)
		}
	})
}

// BenchmarkMembers walks a command body's members, names decoded and
// string values found, with Members and with encoding/json's Decoder (Token
// for the names, a RawMessage for the values): the comparison behind the
// package doc's choice.
func BenchmarkMembers(b *testing.B) {
	body := []byte(`{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com","phone":"+44 20 7946 0958","birthDate":"1815-12-10","gender":"F","unsubscribed":false}`)
	b.Run("jsonscan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			ms := Object(body, Space(body, 0))
			for m, ok := ms.Next(); ok; m, ok = ms.Next() {
				n += len(Unquote(body[m.Name:m.NameEnd])) + m.End - m.Value
			}
			if n == 0 {
				b.Fatal("no members")
			}
		}
	})
	b.Run("decoder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			dec := json.NewDecoder(bytes.NewReader(body))
			if _, err := dec.Token(); err != nil {
				b.Fatal(err)
			}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					b.Fatal(err)
				}
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					b.Fatal(err)
				}
				n += len(tok.(string)) + len(raw)
			}
			if n == 0 {
				b.Fatal("no members")
			}
		}
	})
}
