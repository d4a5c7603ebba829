package schemas_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/schemas"
)

// subject is the customer id of the subject that update and delete
// examples are decoded with; an example's id must equal it.
const subject = "cus_123"

// ops maps the command schemas to the op Decode takes.
var ops = map[string]string{
	schemas.CreateCommand: "create",
	schemas.UpdateCommand: "update",
	schemas.DeleteCommand: "delete",
}

func compile(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	sch, err := schemas.Compile(name)
	if err != nil {
		t.Fatalf("Compile(%q): %v", name, err)
	}
	return sch
}

func TestSchemasCompile(t *testing.T) {
	for _, name := range schemas.Names {
		t.Run(name, func(t *testing.T) {
			compile(t, name)
			data, err := schemas.Files.ReadFile(name + ".schema.json")
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"$schema": "https://json-schema.org/draft/2020-12/schema",
				"$id":     schemas.BaseURI + name + ".schema.json",
			}
			for k, v := range want {
				if doc[k] != v {
					t.Errorf("%s: got %v, want %v", k, doc[k], v)
				}
			}
			for _, k := range []string{"title", "description"} {
				if s, _ := doc[k].(string); s == "" {
					t.Errorf("%s: got none, want one", k)
				}
			}
			if _, isCommand := ops[name]; isCommand && doc["additionalProperties"] != false {
				t.Errorf("additionalProperties: got %v, want false", doc["additionalProperties"])
			}
		})
	}
	if _, err := schemas.Compile("nope"); err == nil {
		t.Errorf(`Compile("nope"): got no error, want one`)
	}
}

// TestExamples checks every example against its schema, and every command
// example against Decode too: the directory (valid or invalid), the schema
// and Go must all agree.
func TestExamples(t *testing.T) {
	dirs, err := fs.ReadDir(schemas.Files, "examples")
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, dir := range dirs {
		name := dir.Name()
		seen = append(seen, name)
		if !slices.Contains(schemas.Names, name) {
			t.Errorf("examples/%s: got a directory for no schema, want one of %q", name, schemas.Names)
			continue
		}
		sch := compile(t, name)
		for _, verdict := range []string{"valid", "invalid"} {
			files, err := fs.Glob(schemas.Files, path.Join("examples", name, verdict, "*.json"))
			if err != nil {
				t.Fatal(err)
			}
			if len(files) == 0 {
				t.Errorf("examples/%s/%s: got no example, want some", name, verdict)
			}
			for _, file := range files {
				t.Run(strings.TrimPrefix(file, "examples/"), func(t *testing.T) {
					checkExample(t, sch, name, file, verdict == "valid")
				})
			}
		}
	}
	slices.Sort(seen)
	if want := slices.Sorted(slices.Values(schemas.Names)); !slices.Equal(seen, want) {
		t.Errorf("example directories: got %q, want %q", seen, want)
	}
}

func checkExample(t *testing.T, sch *jsonschema.Schema, name, file string, want bool) {
	t.Helper()
	data, err := schemas.Files.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	schemaErr := sch.Validate(inst)
	schemaOK := schemaErr == nil

	op, isCommand := ops[name]
	var goErr error
	goOK := schemaOK
	if isCommand {
		_, goErr = commands.Decode(op, subject, data)
		goOK = goErr == nil
	}
	if schemaOK == want && goOK == want {
		return
	}
	msg := fmt.Sprintf("directory says valid=%t; JSON Schema says valid=%t", want, schemaOK)
	if schemaErr != nil {
		msg += fmt.Sprintf(" (%v)", oneLine(schemaErr))
	}
	if isCommand {
		msg += fmt.Sprintf("; Go Decode says valid=%t", goOK)
		if goErr != nil {
			msg += fmt.Sprintf(" (%v %+v)", goErr, goErr.(*commands.ValidationError).Fields)
		}
	}
	t.Errorf("%s: got disagreement, want all to agree: %s", file, msg)
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// TestGoOnlyRules covers the whole-body rules that JSON Schema cannot say:
// the schemas accept these bodies (as parsed JSON), Decode does not.
func TestGoOnlyRules(t *testing.T) {
	sch := compile(t, schemas.CreateCommand)
	big := `{"firstName":"Ada","phone":"5550100","internalNote":"` + strings.Repeat("x", commands.MaxBodyBytes) + `"}`
	for _, tc := range []struct {
		name, body, wantMsg string
	}{
		{"over 64 KiB", big, "over the limit"},
		{"duplicate name", `{"firstName":"Ada","phone":"1","phone":"5550100"}`, "phone appears more than once"},
		{"invalid UTF-8", "{\"firstName\":\"Ad\xe9\",\"phone\":\"5550100\"}", "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(tc.body))
			if err != nil {
				t.Fatalf("UnmarshalJSON: %v", err)
			}
			if err := sch.Validate(inst); err != nil {
				t.Errorf("JSON Schema: got %v, want the parsed body valid (the rule is Go's only)", oneLine(err))
			}
			_, err = commands.Decode("create", "", []byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Decode: got %v, want an error saying %q", err, tc.wantMsg)
			}
		})
	}
	// And the other way: a delete's empty body is no JSON, yet valid.
	if _, err := commands.Decode("delete", subject, nil); err != nil {
		t.Errorf("Decode(delete, empty): got %v, want no error", err)
	}
}

// TestRulesAgree compares Go and the create schema on many strings for each
// field with a value rule: edge cases, then random strings over an alphabet
// chosen to hit the rules' edges.
func TestRulesAgree(t *testing.T) {
	sch := compile(t, schemas.CreateCommand)
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(alphabet []string, maxLen int) string {
		var b strings.Builder
		for range rng.IntN(maxLen + 1) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	split := func(s string) []string { return strings.Split(s, "") }
	for _, tc := range []struct {
		field    string
		edges    []string
		generate func() string
	}{
		{
			field: "phone",
			edges: []string{"", "123", "1234", "+1 (2) 3-4.", "12345678901234567890", "123456789012345678901", " 1 2 3 4 ", "1234\n", "1234\t", "１２３４", "12a34", "--(())++..1111"},
			generate: func() string {
				return random(split("0123456789+ -.()x/\t#"), 30)
			},
		},
		{
			field: "email",
			edges: []string{"", "a@b.co", "a@b.c", "a@b", "a@b.c1", "a@b.1c", "a@1.2.3.4", "a.@b.co", ".a@b.co", "a..b@b.co", "a@-b.co", "a@b-.co", "a@b..co", "a@b.co.",
				"a b@c.co", `"a"@b.co`, "a@[1.2.3.4]", "a@b@c.co", "A+B/C=D?E^F_G`H{I|J}K~L!#$%&'*-@x.io",
				strings.Repeat("a", 64) + "@b.co", strings.Repeat("a", 65) + "@b.co",
				"a@" + strings.Repeat("b", 63) + ".co", "a@" + strings.Repeat("b", 64) + ".co",
				"a@" + strings.Repeat(strings.Repeat("b", 60)+".", 4) + "co",
				strings.Repeat("a", 64) + "@" + strings.Repeat(strings.Repeat("b", 61)+".", 3) + "co",
				strings.Repeat("a", 64) + "@" + strings.Repeat(strings.Repeat("b", 61)+".", 3) + "com",  // 254 characters
				strings.Repeat("a", 64) + "@" + strings.Repeat(strings.Repeat("b", 61)+".", 3) + "coma", // 255
				"ä@b.co", "a@ä.co", "a@b.cö"},
			generate: func() string {
				return random(split("ab.@-1+_Z ä\""), 16)
			},
		},
		{
			field: "birthDate",
			edges: []string{"", "2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "0000-02-29", "0000-01-01", "9999-12-31", "2023-00-10", "2023-01-00", "2023-01-32",
				"2023-04-31", "2023-06-30", "2023-1-01", "2023-01-1", "02023-01-01", "2023-01-01 ", " 2023-01-01", "2023-01-01T00:00:00Z", "2023/01/01", "２０２３-01-01"},
			generate: func() string {
				d := []byte(fmt.Sprintf("%04d-%02d-%02d", rng.IntN(2101), rng.IntN(14), rng.IntN(33)))
				if rng.IntN(4) == 0 { // now and then, break the shape
					d[rng.IntN(len(d))] = "0-9/ T"[rng.IntN(6)]
				}
				return string(d)
			},
		},
		{
			field: "firstName",
			edges: []string{"", " ", "\t\n\v\f\r", "\u0085", "\u00a0", "\u1680", "\u2000\u200a", "\u2028\u2029", "\u202f\u205f\u3000", "\u200b", "\ufeff", "\u180e", "a", " a ", "\u3000李"},
			generate: func() string {
				return random([]string{" ", "\t", "\u00a0", "\u3000", "\u2007", "\u200b", "\ufeff", "x", "\u0085", "\u001c"}, 4)
			},
		},
	} {
		t.Run(tc.field, func(t *testing.T) {
			values := tc.edges
			for range 3000 {
				values = append(values, tc.generate())
			}
			for _, v := range values {
				checkAgree(t, sch, tc.field, v)
			}
		})
	}
	t.Run("gender", func(t *testing.T) {
		for _, v := range []string{"F", "M", "f", "m", "", "X", "FM", " F"} {
			checkAgree(t, sch, "gender", v)
		}
	})
}

// checkAgree checks that Go and the schema agree on a create body with the
// given value in field.
func checkAgree(t *testing.T, sch *jsonschema.Schema, field, value string) {
	t.Helper()
	body := map[string]string{"firstName": "Ada", "phone": "5550100"}
	body[field] = value
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	schemaErr := sch.Validate(inst)
	_, goErr := commands.Decode("create", "", data)
	if (schemaErr == nil) != (goErr == nil) {
		t.Errorf("%s %q: got JSON Schema error %v and Go error %v, want both nil or both set", field, value, schemaErr, goErr)
	}
}

// TestBlankSetIsGos checks that the firstName pattern's class of white
// space is exactly unicode.IsSpace: over every rune of the Basic
// Multilingual Plane (where all of Unicode's White_Space is), and a sample
// of the others.
func TestBlankSetIsGos(t *testing.T) {
	data, err := schemas.Files.ReadFile(schemas.CreateCommand + ".schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs map[string]struct {
			Pattern string `json:"pattern"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(doc.Defs["firstName"].Pattern)
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r > 0xffff {
			r += 97
		}
		if !utf8.ValidRune(r) {
			continue
		}
		if got, want := re.MatchString(string(r)), !unicode.IsSpace(r); got != want {
			t.Errorf("rune %U: got pattern match %t, want %t (unicode.IsSpace %t)", r, got, want, !want)
		}
	}
}

// TestResultsFromGo validates results that Go encodes against
// result.schema.json: applied, failed, and rejected with every rule Decode
// reports.
func TestResultsFromGo(t *testing.T) {
	sch := compile(t, schemas.Result)
	at := time.Date(2026, 11, 27, 10, 0, 0, 123_456_789, time.FixedZone("X", -7*3600))
	results := []commands.Result{
		{CommandID: "c1", Op: "create", Status: commands.StatusApplied, CustomerID: "cus_1", Attempts: 1, FinishedAt: at},
		{CommandID: "c2", Op: "update", Status: commands.StatusApplied, CustomerID: "cus_1", Attempts: 1, FinishedAt: at.Truncate(time.Second)},
		{CommandID: "c3", Op: "delete", Status: commands.StatusFailed, CustomerID: "a.b", Attempts: 9, FinishedAt: at,
			Error: &commands.ResultError{Code: "CRM_TIMEOUT", Message: "crm: delete a.b: timeout"}},
		{CommandID: "c4", Op: "update", Status: commands.StatusRejected, CustomerID: "cus_1", Attempts: 1, FinishedAt: at,
			Error: &commands.ResultError{Code: "NotFound", Message: "crm: update cus_1: not found", Fields: []commands.FieldError{}}},
		{CommandID: "c5", Op: "update", Status: commands.StatusApplied, CustomerID: "cus_1", Attempts: 1, FinishedAt: at,
			Warnings: json.RawMessage(`[{"code":"DEPRECATED","message":"use v2"}]`)},
	}
	many := `{"firstName":"Ada","phone":"5550100"`
	for i := range 30 {
		many += fmt.Sprintf(`,"x%d":1`, i)
	}
	for _, tc := range []struct{ op, body string }{
		{"create", `{"firstName":" ","phone":"1","gender":"x","birthDate":"2023-02-29","email":"a@b","id":"1","cityId":null,"number":1,"passcode":"1","passcode":"2"}`},
		{"create", `{}`},
		{"create", many + "}"},
		{"update", `{"id":"other","lastName":"B"}`},
		{"update", `{"id":"cus_1"}`},
		{"create", `[]`},
		{"delete", `{"x":1}`},
	} {
		_, err := commands.Decode(tc.op, "cus_1", []byte(tc.body))
		verr, ok := err.(*commands.ValidationError)
		if !ok {
			t.Fatalf("Decode(%s, %s): got %v, want a *ValidationError", tc.op, tc.body, err)
		}
		res := commands.Result{CommandID: "v", Op: tc.op, Status: commands.StatusRejected, FinishedAt: at, Error: commands.Rejected(verr)}
		if tc.op != "create" {
			res.CustomerID = "cus_1"
		}
		results = append(results, res)
	}
	rules := map[string]bool{}
	for _, res := range results {
		data, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("result %s: got %v, want it valid", data, oneLine(err))
		}
		if res.Error != nil {
			for _, f := range res.Error.Fields {
				rules[f.Rule] = true
			}
		}
	}
	for _, rule := range []string{"unknown", "duplicate", "type", "null", "required", "phone", "date", "email", "oneof", "eq_subject", "too_many"} {
		if !rules[rule] {
			t.Errorf("rule %s: got no result with it, want one (the test's bodies should cover every rule)", rule)
		}
	}
}
