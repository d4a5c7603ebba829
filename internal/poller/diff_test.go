package poller

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// userMap is a customer as the CRM's export returns it (the spec's UserMap).
const userMap = `{"id":"cus_01HZX3K9QW","firstName":"Marie","lastName":"Dupont",` +
	`"email":"marie.dupont@example.com","phone":"+33612345678","phoneCountry":"FR",` +
	`"phoneCountryCalling":"33","number":"C-000123","cityId":"city_75056",` +
	`"birthDate":"1988-04-12","gender":{"code":"F"},"unsubscribed":false,` +
	`"internalNote":null,"archivedAt":null,"archivedBy":null,"archivedVia":null,` +
	`"createdAt":"2024-02-01T09:30:00Z","createdVia":"api","createdBy":"usr_admin",` +
	`"updatedAt":"2026-11-27T10:00:00Z","updatedVia":"backoffice","updatedBy":"usr_42"}`

// with returns userMap with the given fields replaced by raw JSON values
// ("" removes the field).
func with(t testing.TB, fields map[string]string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(userMap), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = json.RawMessage(v)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDiff(t *testing.T) {
	base := json.RawMessage(userMap)
	tests := []struct {
		name          string
		before, after json.RawMessage
		want          []string
	}{
		{"same", base, base, nil},
		{"touch only", base, with(t, map[string]string{
			"updatedAt": `"2026-11-27T11:00:00Z"`, "updatedBy": `"usr_7"`, "updatedVia": `"api"`}), nil},
		{"updated fields removed", base, with(t, map[string]string{
			"updatedAt": "", "updatedBy": "", "updatedVia": ""}), nil},
		{"two fields changed", base, with(t, map[string]string{
			"lastName": `"Martin"`, "email": `"m.martin@example.com"`}), []string{"email", "lastName"}},
		{"absent vs null", base, with(t, map[string]string{
			"internalNote": "", "archivedAt": "", "archivedBy": "", "archivedVia": ""}), nil},
		{"null vs absent", with(t, map[string]string{"internalNote": ""}), base, nil},
		{"key order and whitespace", json.RawMessage(`{"a":1,"b":{"x":"1","y":[1,2]}}`),
			json.RawMessage("{ \"b\" : {\n\t\"y\": [ 1 , 2 ], \"x\":\"1\"} ,\r\n\"a\" : 1 }"), nil},
		{"key reorder of a whole record", base, reversed(t, base), nil},
		{"nested object change", base, with(t, map[string]string{"gender": `{"code":"M"}`}), []string{"gender"}},
		{"nested object key added", base, with(t, map[string]string{"gender": `{"code":"F","label":"f"}`}), []string{"gender"}},
		{"nested null is a value", json.RawMessage(`{"g":{}}`), json.RawMessage(`{"g":{"code":null}}`), []string{"g"}},
		{"archived", base, with(t, map[string]string{
			"archivedAt": `"2026-11-27T10:05:00Z"`, "updatedAt": `"2026-11-27T10:05:00Z"`}), []string{"archivedAt"}},
		{"field added", json.RawMessage(`{"a":1}`), json.RawMessage(`{"a":1,"b":false}`), []string{"b"}},
		{"field removed", json.RawMessage(`{"a":1,"b":false}`), json.RawMessage(`{"a":1}`), []string{"b"}},
		{"value to null", json.RawMessage(`{"a":1,"b":"x"}`), json.RawMessage(`{"a":1,"b":null}`), []string{"b"}},
		{"numbers 1 and 1.0", json.RawMessage(`{"n":1}`), json.RawMessage(`{"n":1.0}`), nil},
		{"numbers spelled differently", json.RawMessage(`{"n":[100,-0.5,0,1.5e300]}`),
			json.RawMessage(`{"n":[1e2,-5E-1,-0.0e7,15e299]}`), nil},
		{"numbers differ", json.RawMessage(`{"n":1}`), json.RawMessage(`{"n":1.000000000000000000001}`), []string{"n"}},
		{"number vs string", json.RawMessage(`{"n":1}`), json.RawMessage(`{"n":"1"}`), []string{"n"}},
		{"false vs absent", json.RawMessage(`{"u":false}`), json.RawMessage(`{}`), []string{"u"}},
		{"empty string vs null", json.RawMessage(`{"s":""}`), json.RawMessage(`{"s":null}`), []string{"s"}},
		{"string escapes", json.RawMessage(`{"s":"A/é😀\n"}`),
			json.RawMessage(`{"s":"\u0041\/\u00e9\ud83d\ude00\u000a"}`), nil},
		{"escaped key", json.RawMessage(`{"firstName":"a"}`), json.RawMessage(`{"first\u004eame":"b"}`), []string{"firstName"}},
		{"escaped ignored key", json.RawMessage(`{"updatedAt":"a"}`), json.RawMessage(`{"updated\u0041t":"b"}`), nil},
		{"duplicate key, last counts", json.RawMessage(`{"a":1,"a":2}`), json.RawMessage(`{"a":2}`), nil},
		{"nested duplicate key", json.RawMessage(`{"g":{"c":"F","c":"M"}}`), json.RawMessage(`{"g":{"c":"M"}}`), nil},
		{"array order counts", json.RawMessage(`{"a":[1,2]}`), json.RawMessage(`{"a":[2,1]}`), []string{"a"}},
		{"sorted by name", json.RawMessage(`{"z":1,"b":1,"m":1}`), json.RawMessage(`{"m":2,"z":2,"b":2}`), []string{"b", "m", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Diff(tt.before, tt.after)
			if err != nil {
				t.Fatalf("Diff: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Diff: got %q, want %q", got, tt.want)
			}
			db, err1 := Digest(tt.before)
			da, err2 := Digest(tt.after)
			if err1 != nil || err2 != nil {
				t.Fatalf("Digest: %v, %v", err1, err2)
			}
			if gotSame, wantSame := db == da, len(tt.want) == 0; gotSame != wantSame {
				t.Errorf("Digest(before) == Digest(after): got %v, want %v", gotSame, wantSame)
			}
		})
	}
}

// reversed returns record with its top-level keys in reverse order and
// indented.
func reversed(t *testing.T, record json.RawMessage) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(record, &m); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Reverse(keys)
	var b strings.Builder
	b.WriteString("{\n")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString("  \"" + k + "\": " + string(m[k]))
	}
	b.WriteString("\n}")
	return json.RawMessage(b.String())
}

func TestDiffInvalid(t *testing.T) {
	tests := []struct {
		name, record string
	}{
		{"empty", ``},
		{"truncated", `{"a":1`},
		{"not an object", `[1,2]`},
		{"null", `null`},
		{"string", `"a"`},
		{"trailing garbage", `{"a":1}x`},
		{"two objects", `{}{}`},
		{"trailing comma", `{"a":1,}`},
		{"unquoted key", `{a:1}`},
		{"single quotes", `{'a':1}`},
		{"leading zero", `{"a":01}`},
		{"bare dot", `{"a":1.}`},
		{"plus sign", `{"a":+1}`},
		{"empty exponent", `{"a":1e}`},
		{"hex", `{"a":0x1}`},
		{"NaN", `{"a":NaN}`},
		{"bad literal", `{"a":tru}`},
		{"control character in string", "{\"a\":\"x\ty\"}"},
		{"bad escape", `{"a":"\x"}`},
		{"short unicode escape", `{"a":"\u12"}`},
		{"missing colon", `{"a" 1}`},
		{"huge exponent", `{"a":1e9999999999999999}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			valid := `{"a":1}`
			if _, err := Diff(json.RawMessage(tt.record), json.RawMessage(valid)); !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("Diff(record, valid): got error %v, want ErrInvalidRecord", err)
			}
			if _, err := Diff(json.RawMessage(valid), json.RawMessage(tt.record)); !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("Diff(valid, record): got error %v, want ErrInvalidRecord", err)
			}
			if _, err := Digest(json.RawMessage(tt.record)); !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("Digest: got error %v, want ErrInvalidRecord", err)
			}
		})
	}
}

func TestDigestStable(t *testing.T) {
	// The digest is part of what the poller may persist: it must not
	// change between processes or versions.
	tests := []struct {
		name, record string
		want         uint64
	}{
		{"empty object", `{}`, 0xef46db3751d8e999},
		{"only nulls and updated fields", `{"a":null,"updatedAt":"x","updatedBy":"y","updatedVia":"z"}`, 0xef46db3751d8e999},
		{"user map", userMap, 0x448dd725dd4010e},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Digest(json.RawMessage(tt.record))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Digest: got %#x, want %#x", got, tt.want)
			}
		})
	}
}

func TestDigestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector")
	}
	record := json.RawMessage(userMap)
	if _, err := Digest(record); err != nil {
		t.Fatal(err)
	}
	got := testing.AllocsPerRun(100, func() {
		if _, err := Digest(record); err != nil {
			t.Fatal(err)
		}
	})
	if got > 0 {
		t.Errorf("Digest allocations: got %v, want 0", got)
	}
}

func BenchmarkDigest(b *testing.B) {
	record := json.RawMessage(userMap)
	b.SetBytes(int64(len(record)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Digest(record); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDiff(b *testing.B) {
	before := json.RawMessage(userMap)
	after := with(b, map[string]string{"email": `"m.dupont@example.org"`, "updatedAt": `"2026-11-27T11:00:00Z"`})
	b.SetBytes(int64(len(before) + len(after)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Diff(before, after); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWholeDigest(b *testing.B) {
	record := json.RawMessage(userMap)
	b.SetBytes(int64(len(record)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wholeDigest(record); err != nil {
			b.Fatal(err)
		}
	}
}
