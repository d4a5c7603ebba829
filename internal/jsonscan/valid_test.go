package jsonscan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// validCases are texts at the edges of JSON's grammar, valid and not.
var validCases = []string{
	``, ` `, `0`, `-0`, `-`, `01`, `-01`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1e+5`, `1E-05`, `1.5e3`, `1.e3`,
	`+1`, `0x1`, `1 2`, `12a`, `Infinity`, `NaN`,
	`true`, `tru`, `truex`, `false`, `fals`, `null`, `nul`, `nulll`, `True`,
	`""`, `"`, `"a`, `"a"`, `"\"`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\a"`, `"\u00e9"`, `"\u00G9"`, `"\u00e"`, `"\u"`,
	"\"\x00\"", "\"\x1f\"", "\"\x7f\"", "\"\xff\xfe\"", "\"é\"", "\"\t\"",
	`{}`, `{ }`, `{`, `}`, `{"a":1}`, `{"a" : 1 , "b":[]}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,"a":1}`, `{a:1}`, `{"a":1 "b":2}`,
	`{1:1}`, `{"a":1}}`, `{"a":{"b":{}}}`, `{"a":[1,{"b":null}]}`, `{"a":1]`,
	`[]`, `[ ]`, `[`, `]`, `[1]`, `[1,]`, `[,1]`, `[1 2]`, `[1,,2]`, `[[]]`, `[[]`, `[]]`, `[}`, `[{]}`, `[1]x`,
	" \t\r\n[1]\n", "\v[1]", "[1]\x00", "\u00a0[1]",
}

func TestValidAsEncodingJSON(t *testing.T) {
	for _, s := range append(validCases, objects...) {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestValidDepth(t *testing.T) {
	for _, open := range []string{"[", `{"a":`} {
		closer := map[string]string{"[": "]", `{"a":`: "}"}[open]
		for _, depth := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
			b := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(closer, depth))
			if got, want := Valid(b), json.Valid(b); got != want {
				t.Errorf("%s nested %d deep: Valid = %v, want %v", open, depth, got, want)
			}
		}
	}
}

// TestPropertyValidAsEncodingJSON draws texts from JSON's tokens, joined
// at random, and texts that are valid JSON with one byte changed: Valid
// says what encoding/json.Valid says of each.
func TestPropertyValidAsEncodingJSON(t *testing.T) {
	tokens := []string{"{", "}", "[", "]", ",", ":", " ", "\n", `"a"`, `"\u00e9"`, `"\`, `"`, "0", "-", "1", ".", "e", "+", "true", "nul", "null"}
	rapid.Check(t, func(t *rapid.T) {
		var b []byte
		if rapid.Bool().Draw(t, "tokens") {
			for _, tok := range rapid.SliceOfN(rapid.SampledFrom(tokens), 0, 24).Draw(t, "joined") {
				b = append(b, tok...)
			}
		} else {
			var err error
			b, err = json.Marshal(jsonValue(3).Draw(t, "value"))
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > 0 {
				at := rapid.IntRange(0, len(b)-1).Draw(t, "at")
				b[at] = rapid.Byte().Draw(t, "byte")
			}
		}
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, want %v", b, got, want)
		}
		checkMembers(t, b)
	})
}

// checkMembers checks ValidMembers on b, a text that may be an object:
// it finds b valid exactly when Valid does, and then gives the members
// the Members walk gives.
func checkMembers(t interface{ Fatalf(string, ...any) }, b []byte) {
	i := Space(b, 0)
	if i == len(b) || b[i] != '{' {
		return
	}
	var got []Member
	end := ValidMembers(b, i, 0, func(m Member) { got = append(got, m) })
	if valid := end >= 0 && Space(b, end) == len(b); valid != Valid(b) {
		t.Fatalf("ValidMembers(%q) ends at %d; Valid says %v", b, end, Valid(b))
	}
	if end < 0 {
		return
	}
	var want []Member
	ms := Object(b, i)
	for m, ok := ms.Next(); ok; m, ok = ms.Next() {
		want = append(want, m)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ValidMembers(%q): members %+v, Members gives %+v", b, got, want)
	}
}

// jsonValue draws a value encoding/json marshals, nested up to depth.
func jsonValue(depth int) *rapid.Generator[any] {
	leaves := []*rapid.Generator[any]{
		rapid.Just[any](nil),
		rapid.Map(rapid.Bool(), func(v bool) any { return v }),
		rapid.Map(rapid.Float64(), func(v float64) any { return v }),
		rapid.Map(rapid.Int(), func(v int) any { return v }),
		rapid.Map(rapid.String(), func(v string) any { return v }),
	}
	if depth == 0 {
		return rapid.OneOf(leaves...)
	}
	return rapid.OneOf(append(leaves,
		rapid.Map(rapid.SliceOfN(jsonValue(depth-1), 0, 4), func(v []any) any { return v }),
		rapid.Map(rapid.MapOfN(rapid.String(), jsonValue(depth-1), 0, 4), func(v map[string]any) any { return v }),
	)...)
}

func FuzzValid(f *testing.F) {
	for _, s := range append(validCases, objects...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Errorf("Valid(%q) = %v, want %v", b, got, want)
		}
		checkMembers(t, b)
	})
}

// BenchmarkValid checks an export page of 1,000 customer records, as the
// CRM sends it, with Valid and with encoding/json.Valid.
func BenchmarkValid(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"requestId":"r-1","data":{"items":[`)
	for i := range 1000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":"c-%06d","firstName":"Ada","lastName":"Lovelace","email":"ada.%d@example.com","phone":"+44 20 7946 0958",`+
			`"birthDate":"1815-12-10","gender":"F","unsubscribed":false,"score":%d.5,"tags":["vip","newsletter"],`+
			`"address":{"street":"12 St James\u0027s Square","city":"London","postcode":"SW1Y 4JH","country":"GB"},`+
			`"createdAt":"2026-01-02T03:04:05Z","updatedAt":"2026-12-03T10:11:12.345Z","notes":"Prefers \"analytical\" engines.\nCall after 10."}`, i, i, i)
	}
	sb.WriteString(`],"next":"cursor-2"}}`)
	page := []byte(sb.String())
	for _, c := range []struct {
		name  string
		valid func([]byte) bool
	}{{"jsonscan", Valid}, {"encoding-json", json.Valid}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				if !c.valid(page) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// TestValidValue checks that ValidValue finds the end of one value in a
// longer text, counts the nesting it is given, and refuses what Valid
// refuses.
func TestValidValue(t *testing.T) {
	text := []byte(`{"a":[1,{"b":"c\"d"}] ,"e":nul}`)
	if got := ValidValue(text, 5, 1); got != 21 || text[got-1] != ']' {
		t.Errorf(`the array of "a": got end %d, want 21`, got)
	}
	if got := ValidValue(text, 28, 1); got != -1 {
		t.Errorf(`the value of "e" (nul): got end %d, want -1`, got)
	}
	deep := []byte(strings.Repeat("[", 10) + strings.Repeat("]", 10))
	if got := ValidValue(deep, 0, maxDepth-10); got != len(deep) {
		t.Errorf("10 arrays inside %d: got end %d, want %d", maxDepth-10, got, len(deep))
	}
	if got := ValidValue(deep, 0, maxDepth-9); got != -1 {
		t.Errorf("10 arrays inside %d: got end %d, want -1 (too deep)", maxDepth-9, got)
	}
	obj := []byte(`{"a":[[1]]}`)
	if got := ValidMembers(obj, 0, maxDepth-3, func(Member) {}); got != len(obj) {
		t.Errorf("an object 3 deep inside %d: got end %d, want %d", maxDepth-3, got, len(obj))
	}
	if got := ValidMembers(obj, 0, maxDepth-2, func(Member) {}); got != -1 {
		t.Errorf("an object 3 deep inside %d: got end %d, want -1 (too deep)", maxDepth-2, got)
	}
}
