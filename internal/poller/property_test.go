package poller

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// The properties below generate JSON values as a model (jval), write each
// one in many spellings (key order, whitespace, escapes, number forms,
// duplicate keys of which the last counts) and check Diff, Digest and
// NewEvent against what the model says changed, and against encoding/json.

// jval is a JSON value of the model.
type jval struct {
	kind byte // 'n' null, 'b' bool, 's' string, 'd' number, 'o' object, 'a' array
	b    bool
	s    []rune    // 's': the string
	m, e int64     // 'd': the number m×10^e
	obj  []jmember // 'o': members with distinct names
	arr  []jval    // 'a'
}

type jmember struct {
	name string
	val  jval
}

// userMapFields are the UserMap's fields; updated* last.
var userMapFields = []string{"id", "firstName", "lastName", "email", "phone", "phoneCountry",
	"phoneCountryCalling", "number", "cityId", "birthDate", "gender", "unsubscribed",
	"internalNote", "archivedAt", "archivedBy", "archivedVia", "createdAt", "createdVia",
	"createdBy", "updatedAt", "updatedVia", "updatedBy"}

var (
	updatedFields = userMapFields[len(userMapFields)-3:]
	plainFields   = userMapFields[:len(userMapFields)-3]
)

// gen draws model values.
type gen struct {
	t       *rapid.T
	invalid bool // U+FFFD may be spelled as what encoding/json decodes to it
}

func (g gen) str() []rune {
	runes := []rune{'a', 'B', '0', ' ', '/', '"', '\\', '\n', '\x01', 'é', '€', '😀', '\u2028', utf8.RuneError}
	return rapid.SliceOfN(rapid.SampledFrom(runes), 0, 5).Draw(g.t, "string")
}

func (g gen) value(depth int) jval {
	kinds := "nbsdoa"
	if depth <= 0 {
		kinds = "nbsd"
	}
	v := jval{kind: kinds[rapid.IntRange(0, len(kinds)-1).Draw(g.t, "kind")]}
	switch v.kind {
	case 'b':
		v.b = rapid.Bool().Draw(g.t, "bool")
	case 's':
		v.s = g.str()
	case 'd':
		v.m = rapid.Int64Range(-1200, 1200).Draw(g.t, "mantissa")
		v.e = rapid.Int64Range(-4, 4).Draw(g.t, "exponent")
	case 'o':
		names := rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"code", "label", "a", "b", "ab", "é"}), 0, 4, rapid.ID).Draw(g.t, "names")
		for _, n := range names {
			v.obj = append(v.obj, jmember{n, g.value(depth - 1)})
		}
	case 'a':
		for range rapid.IntRange(0, 3).Draw(g.t, "elems") {
			v.arr = append(v.arr, g.value(depth-1))
		}
	}
	return v
}

// field draws a value for a record's field: mostly strings and nulls.
func (g gen) field() jval {
	switch rapid.IntRange(0, 9).Draw(g.t, "field kind") {
	case 0, 1:
		return jval{kind: 'n'}
	case 2:
		return jval{kind: 'b', b: rapid.Bool().Draw(g.t, "bool")}
	case 3:
		return jval{kind: 'o', obj: []jmember{{"code", jval{kind: 's', s: []rune{rapid.SampledFrom([]rune("FMX")).Draw(g.t, "gender")}}}}}
	case 4:
		return g.value(2)
	default:
		return jval{kind: 's', s: g.str()}
	}
}

// record draws a customer record: a random subset of the UserMap's fields.
func (g gen) record() []jmember {
	var rec []jmember
	for _, name := range rapid.Permutation(userMapFields).Draw(g.t, "order") {
		if rapid.IntRange(0, 3).Draw(g.t, "present") > 0 {
			rec = append(rec, jmember{name, g.field()})
		}
	}
	return rec
}

// write spells v as JSON, choosing whitespace, escapes, number forms and
// member order at random, sometimes with a duplicate member before the one
// that counts.
func (g gen) write(b *strings.Builder, v jval) {
	switch v.kind {
	case 'n':
		b.WriteString("null")
	case 'b':
		b.WriteString(strconv.FormatBool(v.b))
	case 's':
		g.writeString(b, v.s)
	case 'd':
		g.writeNumber(b, v.m, v.e)
	case 'a':
		b.WriteByte('[')
		for i, e := range v.arr {
			if i > 0 {
				b.WriteByte(',')
			}
			g.ws(b)
			g.write(b, e)
			g.ws(b)
		}
		b.WriteByte(']')
	case 'o':
		g.writeObject(b, v.obj, true)
	}
}

func (g gen) writeObject(b *strings.Builder, members []jmember, shuffle bool) {
	if shuffle {
		members = rapid.Permutation(members).Draw(g.t, "member order")
	}
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		if rapid.IntRange(0, 9).Draw(g.t, "duplicate") == 0 {
			g.writeMember(b, jmember{m.name, g.value(1)})
			b.WriteByte(',')
		}
		g.writeMember(b, m)
	}
	g.ws(b)
	b.WriteByte('}')
}

func (g gen) writeMember(b *strings.Builder, m jmember) {
	g.ws(b)
	g.writeString(b, []rune(m.name))
	g.ws(b)
	b.WriteByte(':')
	g.ws(b)
	g.write(b, m.val)
}

func (g gen) ws(b *strings.Builder) {
	b.WriteString(rapid.SampledFrom([]string{"", "", "", " ", "\n  ", "\t", "\r\n"}).Draw(g.t, "ws"))
}

func (g gen) writeString(b *strings.Builder, s []rune) {
	b.WriteByte('"')
	for _, r := range s {
		if r == utf8.RuneError && g.invalid && rapid.Bool().Draw(g.t, "invalid") {
			// Invalid UTF-8 bytes and lone surrogates decode to U+FFFD
			// (only high ones: a low one after a high one would pair).
			b.WriteString(rapid.SampledFrom([]string{"\xff", "\xfe", "\x80", `\ud800`, `\uDBFF`}).Draw(g.t, "spelling"))
			continue
		}
		must := r == '"' || r == '\\' || r < 0x20
		switch how := rapid.IntRange(0, 3).Draw(g.t, "escape"); {
		case !must && how < 2:
			b.WriteRune(r)
		case how == 2 && strings.ContainsRune("\"\\/\b\f\n\r\t", r):
			b.WriteByte('\\')
			b.WriteByte(`"\/bfnrt`[strings.IndexRune("\"\\/\b\f\n\r\t", r)])
		default:
			format := rapid.SampledFrom([]string{`\u%04x`, `\u%04X`}).Draw(g.t, "hex case")
			if r > 0xffff {
				r1, r2 := (r-0x10000)>>10+0xd800, (r-0x10000)&0x3ff+0xdc00
				fmt.Fprintf(b, format+format, r1, r2)
			} else {
				fmt.Fprintf(b, format, r)
			}
		}
	}
	b.WriteByte('"')
}

// writeNumber spells m×10^e in one of its many forms: 15e-1, 1.5, 1.50,
// 0.15E+1, ...
func (g gen) writeNumber(b *strings.Builder, m, e int64) {
	if m < 0 || m == 0 && rapid.Bool().Draw(g.t, "minus zero") {
		b.WriteByte('-')
	}
	zeros := rapid.IntRange(0, 2).Draw(g.t, "trailing zeros")
	digits := strconv.FormatInt(max(m, -m), 10)
	if m != 0 {
		digits += strings.Repeat("0", zeros)
		e -= int64(zeros)
	}
	// Move the decimal point q digits left, or write 0.digits.
	q := rapid.IntRange(0, len(digits)).Draw(g.t, "point")
	switch {
	case q == len(digits):
		b.WriteString("0." + digits)
	case q > 0:
		b.WriteString(digits[:len(digits)-q] + "." + digits[len(digits)-q:])
	default:
		b.WriteString(digits)
	}
	if e += int64(q); e != 0 || rapid.Bool().Draw(g.t, "zero exponent") {
		b.WriteString(rapid.SampledFrom([]string{"e", "E"}).Draw(g.t, "e"))
		if e >= 0 {
			b.WriteString(rapid.SampledFrom([]string{"", "+"}).Draw(g.t, "plus"))
		}
		b.WriteString(strconv.FormatInt(e, 10))
	}
}

func (g gen) render(v jval) json.RawMessage {
	var b strings.Builder
	g.ws(&b)
	g.write(&b, v)
	g.ws(&b)
	return json.RawMessage(b.String())
}

func (g gen) renderRecord(rec []jmember) json.RawMessage {
	var b strings.Builder
	g.ws(&b)
	g.writeObject(&b, rec, false)
	return json.RawMessage(b.String())
}

// equal reports whether the model values are the same JSON value.
func equal(a, b jval) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case 'b':
		return a.b == b.b
	case 's':
		return slices.Equal(a.s, b.s)
	case 'd':
		am, ae := normal(a.m, a.e)
		bm, be := normal(b.m, b.e)
		return am == bm && ae == be
	case 'a':
		return slices.EqualFunc(a.arr, b.arr, equal)
	case 'o':
		if len(a.obj) != len(b.obj) {
			return false
		}
		for _, m := range a.obj {
			i := slices.IndexFunc(b.obj, func(n jmember) bool { return n.name == m.name })
			if i < 0 || !equal(m.val, b.obj[i].val) {
				return false
			}
		}
	}
	return true
}

func normal(m, e int64) (int64, int64) {
	if m == 0 {
		return 0, 0
	}
	for m%10 == 0 {
		m, e = m/10, e+1
	}
	return m, e
}

// changed returns the sorted names of the fields that differ between two
// model records, as Diff should find them.
func changed(before, after []jmember) []string {
	get := func(rec []jmember, name string) jval {
		for _, m := range rec {
			if m.name == name {
				return m.val
			}
		}
		return jval{kind: 'n'}
	}
	var names []string
	for _, name := range plainFields {
		if !equal(get(before, name), get(after, name)) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// edit applies one random edit to rec and returns the result (rec is not
// modified) and what it did.
func (g gen) edit(rec []jmember) ([]jmember, string) {
	rec = slices.Clone(rec)
	set := func(name string, v jval, present bool) {
		i := slices.IndexFunc(rec, func(m jmember) bool { return m.name == name })
		switch {
		case i >= 0 && present:
			rec[i].val = v
		case i >= 0:
			rec = slices.Delete(rec, i, i+1)
		case present:
			rec = append(rec, jmember{name, v})
		}
	}
	switch rapid.IntRange(0, 4).Draw(g.t, "edit") {
	case 0: // change k fields
		names := rapid.SliceOfNDistinct(rapid.SampledFrom(plainFields), 1, 4, rapid.ID).Draw(g.t, "fields")
		for _, n := range names {
			set(n, g.field(), rapid.IntRange(0, 5).Draw(g.t, "keep") > 0)
		}
		return rec, "change " + strings.Join(names, ",")
	case 1: // touch
		for _, n := range updatedFields {
			set(n, jval{kind: 's', s: g.str()}, rapid.IntRange(0, 5).Draw(g.t, "keep") > 0)
		}
		return rec, "touch"
	case 2: // absent <-> null
		var nulls []string
		for _, n := range plainFields {
			i := slices.IndexFunc(rec, func(m jmember) bool { return m.name == n })
			if i < 0 || rec[i].val.kind == 'n' {
				nulls = append(nulls, n)
			}
		}
		if len(nulls) == 0 {
			return rec, "no null to toggle"
		}
		n := rapid.SampledFrom(nulls).Draw(g.t, "toggle")
		present := slices.ContainsFunc(rec, func(m jmember) bool { return m.name == n })
		set(n, jval{kind: 'n'}, !present)
		return rec, "toggle " + n
	default: // reorder
		return rapid.Permutation(rec).Draw(g.t, "reorder"), "reorder"
	}
}

func TestPropertyDiffFindsTheChangedFields(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := gen{t: t}
		before := g.record()
		after := before
		var edits []string
		for range rapid.IntRange(1, 5).Draw(t, "edits") {
			var what string
			after, what = g.edit(after)
			edits = append(edits, what)
		}
		want := changed(before, after)
		rb, ra := g.renderRecord(before), g.renderRecord(after)
		t.Logf("edits %q\nbefore %s\nafter  %s", edits, rb, ra)

		got, err := Diff(rb, ra)
		if err != nil {
			t.Fatalf("Diff: %v", err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Diff: got %q, want %q", got, want)
		}
		if ref := refDiff(t, rb, ra); !slices.Equal(ref, want) {
			t.Fatalf("Diff by encoding/json: got %q, want %q", ref, want)
		}
		db, err1 := Digest(rb)
		da, err2 := Digest(ra)
		if err1 != nil || err2 != nil {
			t.Fatalf("Digest: %v, %v", err1, err2)
		}
		if gotSame, wantSame := db == da, len(want) == 0; gotSame != wantSame {
			t.Fatalf("Digest(before) == Digest(after): got %v, want %v", gotSame, wantSame)
		}

		ev, ok, err := NewEvent("cus_1", rb, ra, time.Unix(0, 0))
		if err != nil {
			t.Fatalf("NewEvent: %v", err)
		}
		if ok != (len(want) > 0) {
			t.Fatalf("NewEvent ok: got %v, want %v", ok, len(want) > 0)
		}
		if !ok {
			return
		}
		if ev.Change != Updated || !slices.Equal(ev.Fields, want) {
			t.Fatalf("NewEvent: got %s of %q, want updated of %q", ev.Change, ev.Fields, want)
		}
		// The same change seen again, spelled differently: the same ID.
		again, _, err := NewEvent("cus_1", g.renderRecord(before), g.renderRecord(after), time.Unix(60, 0))
		if err != nil {
			t.Fatalf("NewEvent again: %v", err)
		}
		if got, want := again.ID(), ev.ID(); got != want {
			t.Fatalf("ID of the same change detected again: got %s, want %s", got, want)
		}
	})
}

func TestPropertyCanonicalMatchesEncodingJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := gen{t: t, invalid: true}
		a := g.value(3)
		b := a
		if rapid.Bool().Draw(t, "other value") {
			b = g.value(3)
		}
		ra, rb := g.render(a), g.render(b)
		var ca, cb canon
		if err := ca.whole(ra); err != nil {
			t.Fatalf("canonical form of %s: %v", ra, err)
		}
		if err := cb.whole(rb); err != nil {
			t.Fatalf("canonical form of %s: %v", rb, err)
		}
		got := bytes.Equal(ca.buf, cb.buf)
		if want := refEqual(refDecode(t, ra), refDecode(t, rb)); got != want {
			t.Fatalf("%s and %s: equal %v, encoding/json says %v", ra, rb, got, want)
		}
		if got != equal(a, b) {
			t.Fatalf("%s and %s: equal %v, the model says %v", ra, rb, got, !got)
		}
	})
}

func TestPropertyValidLikeEncodingJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := gen{t: t, invalid: true}
		doc := []byte(g.render(g.value(3)))
		if rapid.Bool().Draw(t, "object") {
			doc = []byte(g.renderRecord(g.record()))
		}
		// Break it, or not, with a few edits.
		for range rapid.IntRange(0, 3).Draw(t, "mutations") {
			at := rapid.IntRange(0, len(doc)).Draw(t, "at")
			c := rapid.SampledFrom([]byte("{}[]\",:0-+.eE1tfnul\\ \x00\xff")).Draw(t, "byte")
			switch op := rapid.IntRange(0, 2).Draw(t, "op"); {
			case op == 0:
				doc = slices.Insert(doc, at, c)
			case at < len(doc) && op == 1:
				doc[at] = c
			case at < len(doc):
				doc = slices.Delete(doc, at, at+1)
			}
		}
		var c canon
		err := c.whole(doc)
		if got, want := err == nil, json.Valid(doc); got != want {
			t.Fatalf("%q: valid %v (%v), encoding/json says %v", doc, got, err, want)
		}
		_, err = Digest(doc)
		var m map[string]json.RawMessage
		if got, want := err == nil, json.Unmarshal(doc, &m) == nil && m != nil; got != want {
			t.Fatalf("%q: Digest error %v, encoding/json object %v", doc, err, want)
		}
		if err != nil && !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("%q: Digest error %v, want ErrInvalidRecord", doc, err)
		}
	})
}

// refDecode decodes doc with encoding/json, numbers as json.Number.
func refDecode(t *rapid.T, doc []byte) any {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("encoding/json: %s: %v", doc, err)
	}
	return v
}

// refEqual compares values decoded by refDecode, numbers by exact value.
func refEqual(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		ra, ok1 := new(big.Rat).SetString(string(a))
		rb, ok2 := new(big.Rat).SetString(string(b))
		return ok1 && ok2 && ra.Cmp(rb) == 0
	case []any:
		b, ok := b.([]any)
		return ok && slices.EqualFunc(a, b, refEqual)
	case map[string]any:
		b, ok := b.(map[string]any)
		return ok && maps.EqualFunc(a, b, refEqual)
	default: // nil, bool, string
		return a == b
	}
}

// refDiff is Diff written with encoding/json.
func refDiff(t *rapid.T, before, after []byte) []string {
	b, _ := refDecode(t, before).(map[string]any)
	a, _ := refDecode(t, after).(map[string]any)
	all := maps.Clone(b)
	maps.Copy(all, a)
	var names []string
	for _, n := range slices.Sorted(maps.Keys(all)) {
		if !slices.Contains(updatedFields, n) && !refEqual(b[n], a[n]) {
			names = append(names, n)
		}
	}
	return names
}
