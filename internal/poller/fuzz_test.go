package poller

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzRecords are records for FuzzDiff and FuzzEventID to start from; every
// pair of them is a seed.
var fuzzRecords = []string{
	userMap,
	`{}`,
	` { } `,
	`{"id":"a","updatedAt":"2026-11-27T10:00:00Z","updatedBy":"u","updatedVia":"api"}`,
	`{"id":"a","updatedAt":"2026-11-27T11:00:00Z","internalNote":null}`,
	`{"id":"a","internalNote":"x","n":1.0,"g":{"code":"F","x":[1,null]}}`,
	`{"g":{"x":[1e0,null],"code":"F"},"n":10e-1,"internalNote":"x","id":"a"}`,
	`{"n":[100,-0.5,0,1.5e300,-0.0e7]}`,
	`{"n":[1e2,-5E-1,-0,15e299,0E-999]}`,
	`{"n":123456789012345678901234567890,"m":1.000000000000000000001}`,
	`{"n":1e1000000000000000,"m":1e-1000000000000000}`,
	`{"n":1e1000000000000001}`,
	`{"n":1e0000000000000000000000000001}`,
	`{"s":"A/é😀\n","\u0069d":"a","first\u004eame":"b","updated\u0041t":"c"}`,
	`{"s":"\u0041\/\u00e9\ud83d\ude00\u000a","id":"a","firstName":"b"}`,
	"{\"s\":\"\xff\\ud800\\udc00\\ud800x\",\"\xfe\":1}",
	"{\"s\":\"\ufffd\\ud800\\udc00\ufffdx\",\"\ufffd\":1}",
	`{"a":1,"a":2,"b":{"c":1,"c":null}}`,
	`{"a":2,"b":{"c":null}}`,
	`{"a":null,"b":false,"c":"","d":[],"e":{}}`,
	`{"a":"1","b":0,"c":null,"d":[null],"e":{"x":null}}`,
	`{"a":1} x`, `{"a":1,}`, `{"a":01}`, `{"a":1.}`, `{"a":"\x"}`, `{"a":"` + "\x01" + `"}`,
	`[]`, `null`, `"x"`, `1`, ``, `{`, `{"a":[}`,
	strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100),
}

// FuzzDiff compares two arbitrary byte strings as records. Nothing may
// panic. Diff refuses, with ErrInvalidRecord, what is not a JSON object or
// holds a number whose exponent exceeds 10^15 (its documented limit), and
// only that. Otherwise: Diff(a, a) is empty; Diff(a, b) is Diff(b, a),
// sorted, without repeats or updatedAt/updatedBy/updatedVia, and the
// fields encoding/json finds differing (numbers by exact decimal value,
// null the same as absent at the top level); Digest(a) == Digest(b)
// exactly when Diff is empty (but for hash collisions, about 2^-64).
func FuzzDiff(f *testing.F) {
	for _, a := range fuzzRecords {
		for _, b := range fuzzRecords {
			f.Add([]byte(a), []byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ab, errAB := Diff(a, b)
		ba, errBA := Diff(b, a)
		da, errDA := Digest(a)
		db, errDB := Digest(b)
		aa, errAA := Diff(a, a)

		refA, okA := fuzzRefRecord(a)
		refB, okB := fuzzRefRecord(b)
		for _, c := range []struct {
			what string
			err  error
			ok   bool
		}{
			{"Diff(a, b)", errAB, okA && okB}, {"Diff(b, a)", errBA, okA && okB},
			{"Digest(a)", errDA, okA}, {"Digest(b)", errDB, okB}, {"Diff(a, a)", errAA, okA},
		} {
			switch {
			case c.ok && c.err != nil:
				t.Fatalf("%s: got %v for %q and %q, want no error", c.what, c.err, a, b)
			case !c.ok && c.err == nil:
				t.Fatalf("%s: got no error for %q and %q, want ErrInvalidRecord", c.what, a, b)
			case !c.ok && !errors.Is(c.err, ErrInvalidRecord):
				t.Fatalf("%s: got %v, want ErrInvalidRecord", c.what, c.err)
			}
		}
		if okA && aa != nil {
			t.Fatalf("Diff(a, a): got %q for %q, want nothing", aa, a)
		}
		if !okA || !okB {
			return
		}
		if !slices.Equal(ab, ba) {
			t.Fatalf("Diff(a, b) = %q, Diff(b, a) = %q, want the same", ab, ba)
		}
		for i, name := range ab {
			if ignored([]byte(name)) {
				t.Fatalf("Diff: got %q, which is ignored, in %q", name, ab)
			}
			if i > 0 && ab[i-1] >= name {
				t.Fatalf("Diff: got %q, want sorted without repeats", ab)
			}
		}
		if want := fuzzRefDiff(refA, refB); !slices.Equal(ab, want) {
			t.Fatalf("Diff(%q, %q): got %q, encoding/json says %q", a, b, ab, want)
		}
		if same := da == db; same != (len(ab) == 0) {
			t.Fatalf("Digest: equal %v (%x, %x), Diff %q", same, da, db, ab)
		}
	})
}

// FuzzEventID builds events from an arbitrary customer id and records.
// Nothing may panic, and an ID is always 32 hex digits, whatever the
// records hold. For an event NewEvent returns, the ID does not depend on
// DetectedAt, and the records re-encoded by encoding/json (decoded with
// UseNumber, so numbers keep their exact value; and, when every number is
// an integer float64 holds exactly, decoded as float64) give the same event
// with the same ID; so does the event decoded from its JSON, as a consumer
// reads it.
func FuzzEventID(f *testing.F) {
	for i, a := range fuzzRecords {
		for j, b := range fuzzRecords {
			if (i+j)%3 == 0 { // a third of the pairs: enough
				f.Add("cus_1", []byte(a), []byte(b))
			}
		}
		f.Add("cus_2", []byte(a), []byte(nil))
		f.Add("cus_3", []byte(nil), []byte(a))
	}
	f.Add("", []byte(`{}`), []byte(`{"a":1}`))
	f.Add("\xff", []byte(nil), []byte(`{}`))
	f.Fuzz(func(t *testing.T, id string, before, after []byte) {
		// A hand-made event, whatever the bytes.
		raw := Event{CustomerID: id, Change: Updated, Before: before, After: after}
		checkIDForm(t, raw.ID())

		t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
		ev, ok, err := NewEvent(id, before, after, t0)
		if err != nil || !ok {
			if ok || ev.CustomerID != "" || ev.Change != "" {
				t.Fatalf("NewEvent: got %+v, %v, %v, want a zero event and not ok", ev, ok, err)
			}
			return
		}
		want := ev.ID()
		checkIDForm(t, want)
		checkEventID(t, id, before, after, t0, ev)
		later, _, _ := NewEvent(id, before, after, t0.Add(time.Hour+time.Nanosecond))
		if got := later.ID(); got != want {
			t.Fatalf("ID detected later: got %s, want %s", got, want)
		}

		// The records re-encoded.
		for _, useNumber := range []bool{true, false} {
			rb, okB := fuzzReencode(before, useNumber)
			ra, okA := fuzzReencode(after, useNumber)
			if !okB || !okA {
				continue
			}
			again, ok, err := NewEvent(id, rb, ra, t0)
			if err != nil || !ok {
				t.Fatalf("NewEvent(%q, %q) re-encoded (UseNumber %v): got ok %v, %v", rb, ra, useNumber, ok, err)
			}
			if again.Change != ev.Change || !slices.Equal(again.Fields, ev.Fields) || again.UpdatedAt != ev.UpdatedAt {
				t.Fatalf("re-encoded (UseNumber %v): got %s %q %q, want %s %q %q", useNumber,
					again.Change, again.Fields, again.UpdatedAt, ev.Change, ev.Fields, ev.UpdatedAt)
			}
			if got := again.ID(); got != want {
				t.Fatalf("ID of %q, %q re-encoded as %q, %q (UseNumber %v): got %s, want %s",
					before, after, rb, ra, useNumber, got, want)
			}
		}

		// The event as a consumer decodes it (a customer id is a JSON
		// string, so valid UTF-8).
		if !utf8.ValidString(id) {
			return
		}
		body, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		var got Event
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("json.Unmarshal(%s): %v", body, err)
		}
		if got.ID() != want {
			t.Fatalf("ID of the event decoded from %s: got %s, want %s", body, got.ID(), want)
		}
	})
}

// checkEventID checks that the eventID newEvent returns with ev, from
// its one parse of each record, is what ID and idAndForm compute from ev.
func checkEventID(t *testing.T, id string, before, after []byte, detected time.Time, ev Event) {
	t.Helper()
	got, eid, ok, err := newEvent(id, before, after, detected)
	if err != nil || !ok || got.ID() != ev.ID() {
		t.Fatalf("newEvent(%q, %q): got %+v, %v, %v; want NewEvent's %+v", before, after, got, ok, err, ev)
	}
	if wantID, wantCompact := ev.idAndForm(); eid.id != wantID || eid.compact != wantCompact {
		t.Fatalf("newEvent(%q, %q): eventID %s %v, want idAndForm's %s %v", before, after, eid.id, eid.compact, wantID, wantCompact)
	}
}

func checkIDForm(t *testing.T, id string) {
	t.Helper()
	if _, err := hex.DecodeString(id); err != nil || len(id) != 32 {
		t.Fatalf("ID: got %q, want 32 hex digits", id)
	}
}

// fuzzRefRecord decodes rec with encoding/json, numbers replaced by their
// exact decimal value (fuzzExact). ok is false when Diff must refuse rec:
// not a JSON object, or a number's exponent beyond 10^15.
func fuzzRefRecord(rec []byte) (m map[string]any, ok bool) {
	if !json.Valid(rec) {
		return nil, false
	}
	if t := bytes.TrimLeft(rec, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, false
	}
	d := json.NewDecoder(bytes.NewReader(rec))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	v, ok = fuzzExactValues(v)
	if !ok {
		return nil, false
	}
	return v.(map[string]any), true
}

// fuzzExact is a number's exact value: sign, significant digits (no
// leading or trailing zeros) and the exponent e, the value being
// digits × 10^e; zero, whatever its sign, is "0".
type fuzzExact string

// fuzzExactValues replaces the json.Numbers in v by their fuzzExact; ok is
// false if one has an exponent beyond 10^15.
func fuzzExactValues(v any) (any, bool) {
	switch v := v.(type) {
	case json.Number:
		return fuzzExactNumber(string(v))
	case []any:
		for i := range v {
			var ok bool
			if v[i], ok = fuzzExactValues(v[i]); !ok {
				return nil, false
			}
		}
	case map[string]any:
		for k := range v {
			e, ok := fuzzExactValues(v[k])
			if !ok {
				return nil, false
			}
			v[k] = e
		}
	}
	return v, true
}

// fuzzExactNumber returns the exact value of a JSON number.
func fuzzExactNumber(s string) (any, bool) {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	mant, expText, _ := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	var exp int64
	if expText != "" {
		neg := strings.HasPrefix(expText, "-")
		expText = strings.TrimLeft(strings.TrimLeft(expText, "+-"), "0")
		if len(expText) > 16 {
			return nil, false
		}
		if expText != "" {
			n, err := strconv.ParseInt(expText, 10, 64)
			if err != nil || n > 1e15 {
				return nil, false
			}
			exp = n
		}
		if neg {
			exp = -exp
		}
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return fuzzExact("0"), true
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += int64(len(digits)-len(trimmed)) - int64(len(frac))
	return fuzzExact(sign + trimmed + "e" + strconv.FormatInt(exp, 10)), true
}

// fuzzRefDiff is Diff written with encoding/json, for records decoded by
// fuzzRefRecord.
func fuzzRefDiff(a, b map[string]any) []string {
	var names []string
	for _, n := range slices.Sorted(maps.Keys(a)) {
		if _, in := b[n]; !in && a[n] != nil {
			names = append(names, n)
		}
	}
	for n, vb := range b {
		if va, in := a[n]; (in || vb != nil) && !reflect.DeepEqual(va, vb) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	return slices.DeleteFunc(names, func(n string) bool { return ignored([]byte(n)) })
}

// fuzzReencode decodes rec with encoding/json and encodes it again, numbers
// as json.Number or as float64. ok is false if rec is not a JSON object,
// or, for float64, holds a number that is not an integer of at most 15
// digits (which float64 may not hold exactly). An empty rec stays empty.
func fuzzReencode(rec []byte, useNumber bool) (json.RawMessage, bool) {
	if len(rec) == 0 {
		return nil, true
	}
	d := json.NewDecoder(bytes.NewReader(rec))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	if _, isObject := v.(map[string]any); !isObject {
		return nil, false
	}
	if !useNumber {
		if !fuzzSmallIntegers(v) {
			return nil, false
		}
		v = nil
		if err := json.Unmarshal(rec, &v); err != nil {
			return nil, false
		}
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	return out, true
}

// fuzzSmallIntegers reports whether every number in v is written as an
// integer of at most 15 digits, without fraction or exponent.
func fuzzSmallIntegers(v any) bool {
	switch v := v.(type) {
	case json.Number:
		s := strings.TrimPrefix(string(v), "-")
		return len(s) <= 15 && strings.Trim(s, "0123456789") == ""
	case []any:
		return !slices.ContainsFunc(v, func(e any) bool { return !fuzzSmallIntegers(e) })
	case map[string]any:
		for _, e := range v {
			if !fuzzSmallIntegers(e) {
				return false
			}
		}
	}
	return true
}
