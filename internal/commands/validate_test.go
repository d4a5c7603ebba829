package commands

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
)

const decodeSubject = "cus_1"

// decodeCase is one body and what Decode must make of it: a Command
// (wantCmd), field errors (wantFields, as "field/rule"), or a whole-body
// error (wantWhole, a part of its message).
type decodeCase struct {
	name       string
	op         string // default create
	id         string // default decodeSubject for update and delete
	body       string
	wantCmd    *Command
	wantFields []string
	wantWhole  string
	wantMsg    string // a part of the first field error's message
}

func refTo[T any](v T) *T { return &v }

func createCmd(p crm.CreateParams) *Command { return &Command{Op: "create", Create: p} }
func updateCmd(p crm.UpdateParams) *Command {
	return &Command{Op: "update", CustomerID: decodeSubject, Update: p}
}

func TestDecodeCreate(t *testing.T) {
	minimal := crm.CreateParams{FirstName: "Ada", Phone: "5550100"}
	with := func(f func(*crm.CreateParams)) *Command {
		p := minimal
		f(&p)
		return createCmd(p)
	}
	runDecodeCases(t, []decodeCase{
		{name: "minimal", body: `{"firstName":"Ada","phone":"5550100"}`, wantCmd: createCmd(minimal)},
		{name: "whitespace everywhere", body: " \n{ \"firstName\" :\t\"Ada\" ,\r\n \"phone\": \"5550100\" } \n", wantCmd: createCmd(minimal)},
		{name: "every field", body: `{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com","phone":"+44 (20) 7946-0958","phoneCallingCode":"+44","cityId":"c1","birthDate":"1815-12-10","gender":"F","passcode":"1234","number":"N-1","unsubscribed":true,"internalNote":"vip"}`,
			wantCmd: createCmd(crm.CreateParams{
				FirstName: "Ada", LastName: crm.Some("Lovelace"), Email: refTo("ada@example.com"), Phone: "+44 (20) 7946-0958",
				PhoneCallingCode: refTo("+44"), CityID: refTo("c1"), BirthDate: refTo("1815-12-10"), Gender: refTo("F"),
				Passcode: refTo("1234"), Number: refTo("N-1"), Unsubscribed: refTo(true), InternalNote: crm.Some("vip"),
			})},
		{name: "lastName and internalNote null", body: `{"firstName":"Ada","phone":"5550100","lastName":null,"internalNote":null}`,
			wantCmd: with(func(p *crm.CreateParams) { p.LastName, p.InternalNote = crm.Null[string](), crm.Null[string]() })},
		{name: "empty strings where no rule", body: `{"firstName":"Ada","phone":"5550100","lastName":"","cityId":"","unsubscribed":false}`,
			wantCmd: with(func(p *crm.CreateParams) {
				p.LastName, p.CityID, p.Unsubscribed = crm.Some(""), refTo(""), refTo(false)
			})},
		{name: "escapes in values", body: `{"firstName":"A\u0064a \"the\" \\ \u00e9","phone":"555\u00300100"}`,
			wantCmd: with(func(p *crm.CreateParams) { p.FirstName, p.Phone = `Ada "the" \ é`, "55500100" })},
		{name: "escaped name", body: `{"\u0066irstName":"Ada","phone":"5550100"}`, wantCmd: createCmd(minimal)},
		{name: "unicode name", body: `{"firstName":"Zoë 李","phone":"5550100"}`, wantCmd: with(func(p *crm.CreateParams) { p.FirstName = "Zoë 李" })},
		{name: "gender M", body: `{"firstName":"Ada","phone":"5550100","gender":"M"}`, wantCmd: with(func(p *crm.CreateParams) { p.Gender = refTo("M") })},
		{name: "leap day", body: `{"firstName":"Ada","phone":"5550100","birthDate":"2024-02-29"}`, wantCmd: with(func(p *crm.CreateParams) { p.BirthDate = refTo("2024-02-29") })},
		{name: "phone 4 digits", body: `{"firstName":"Ada","phone":"1234"}`, wantCmd: with(func(p *crm.CreateParams) { p.Phone = "1234" })},
		{name: "phone 20 digits", body: `{"firstName":"Ada","phone":"+(12) 345.678-901 234 567 890"}`, wantCmd: with(func(p *crm.CreateParams) { p.Phone = "+(12) 345.678-901 234 567 890" })},

		{name: "empty object", body: `{}`, wantFields: []string{"firstName/required", "phone/required"}, wantMsg: "firstName is required"},
		{name: "firstName missing", body: `{"phone":"5550100"}`, wantFields: []string{"firstName/required"}, wantMsg: "firstName is required"},
		{name: "phone missing", body: `{"firstName":"Ada"}`, wantFields: []string{"phone/required"}, wantMsg: "phone is required"},
		{name: "firstName empty", body: `{"firstName":"","phone":"5550100"}`, wantFields: []string{"firstName/required"}, wantMsg: "firstName must not be empty or blank"},
		{name: "firstName blank", body: `{"firstName":" \t\n","phone":"5550100"}`, wantFields: []string{"firstName/required"}},
		{name: "firstName no-break spaces", body: `{"firstName":"\u00a0\u3000","phone":"5550100"}`, wantFields: []string{"firstName/required"}},
		{name: "firstName null", body: `{"firstName":null,"phone":"5550100"}`, wantFields: []string{"firstName/null"}, wantMsg: "firstName must not be null in a create command"},
		{name: "phone null", body: `{"firstName":"Ada","phone":null}`, wantFields: []string{"phone/null"}},
		{name: "phone 3 digits", body: `{"firstName":"Ada","phone":"123"}`, wantFields: []string{"phone/phone"}, wantMsg: "phone must hold 4 to 20 digits, and besides digits only + - . ( ) and spaces"},
		{name: "phone 21 digits", body: `{"firstName":"Ada","phone":"123456789012345678901"}`, wantFields: []string{"phone/phone"}},
		{name: "phone empty", body: `{"firstName":"Ada","phone":""}`, wantFields: []string{"phone/phone"}},
		{name: "phone letters", body: `{"firstName":"Ada","phone":"555-CALL-NOW"}`, wantFields: []string{"phone/phone"}},
		{name: "phone tab", body: `{"firstName":"Ada","phone":"555\t0100"}`, wantFields: []string{"phone/phone"}},
		{name: "phone fullwidth digits", body: `{"firstName":"Ada","phone":"５５５０１００"}`, wantFields: []string{"phone/phone"}},
		{name: "phone slash", body: `{"firstName":"Ada","phone":"555/0100"}`, wantFields: []string{"phone/phone"}},
		{name: "phone number", body: `{"firstName":"Ada","phone":5550100}`, wantFields: []string{"phone/type"}, wantMsg: "phone must be a string, not a number"},
		{name: "gender lowercase", body: `{"firstName":"Ada","phone":"5550100","gender":"f"}`, wantFields: []string{"gender/oneof"}, wantMsg: "gender must be F or M"},
		{name: "gender empty", body: `{"firstName":"Ada","phone":"5550100","gender":""}`, wantFields: []string{"gender/oneof"}},
		{name: "gender null", body: `{"firstName":"Ada","phone":"5550100","gender":null}`, wantFields: []string{"gender/null"}},
		{name: "birthDate not a date", body: `{"firstName":"Ada","phone":"5550100","birthDate":"2023-02-29"}`, wantFields: []string{"birthDate/date"}, wantMsg: "birthDate must be a real date written YYYY-MM-DD"},
		{name: "birthDate April 31", body: `{"firstName":"Ada","phone":"5550100","birthDate":"2023-04-31"}`, wantFields: []string{"birthDate/date"}},
		{name: "birthDate 1900-02-29", body: `{"firstName":"Ada","phone":"5550100","birthDate":"1900-02-29"}`, wantFields: []string{"birthDate/date"}},
		{name: "birthDate month 13", body: `{"firstName":"Ada","phone":"5550100","birthDate":"2023-13-01"}`, wantFields: []string{"birthDate/date"}},
		{name: "birthDate short", body: `{"firstName":"Ada","phone":"5550100","birthDate":"2023-1-01"}`, wantFields: []string{"birthDate/date"}},
		{name: "birthDate with time", body: `{"firstName":"Ada","phone":"5550100","birthDate":"2023-01-01T00:00:00Z"}`, wantFields: []string{"birthDate/date"}},
		{name: "birthDate slashes", body: `{"firstName":"Ada","phone":"5550100","birthDate":"2023/01/01"}`, wantFields: []string{"birthDate/date"}},
		{name: "email no at", body: `{"firstName":"Ada","phone":"5550100","email":"ada.example.com"}`, wantFields: []string{"email/email"}, wantMsg: "email must be an address"},
		{name: "email one label", body: `{"firstName":"Ada","phone":"5550100","email":"ada@localhost"}`, wantFields: []string{"email/email"}},
		{name: "email display name", body: `{"firstName":"Ada","phone":"5550100","email":"Ada <ada@example.com>"}`, wantFields: []string{"email/email"}},
		{name: "email double dot", body: `{"firstName":"Ada","phone":"5550100","email":"a..b@example.com"}`, wantFields: []string{"email/email"}},
		{name: "email non-ASCII domain", body: `{"firstName":"Ada","phone":"5550100","email":"ada@exämple.com"}`, wantFields: []string{"email/email"}},
		{name: "email numeric top label", body: `{"firstName":"Ada","phone":"5550100","email":"ada@10.0.0.1"}`, wantFields: []string{"email/email"}},
		{name: "email empty", body: `{"firstName":"Ada","phone":"5550100","email":""}`, wantFields: []string{"email/email"}},
		{name: "email null", body: `{"firstName":"Ada","phone":"5550100","email":null}`, wantFields: []string{"email/null"}},
		{name: "cityId null", body: `{"firstName":"Ada","phone":"5550100","cityId":null}`, wantFields: []string{"cityId/null"}},
		{name: "unsubscribed null", body: `{"firstName":"Ada","phone":"5550100","unsubscribed":null}`, wantFields: []string{"unsubscribed/null"}},
		{name: "unsubscribed string", body: `{"firstName":"Ada","phone":"5550100","unsubscribed":"true"}`, wantFields: []string{"unsubscribed/type"}, wantMsg: "unsubscribed must be true or false, not a string"},
		{name: "firstName number", body: `{"firstName":1,"phone":"5550100"}`, wantFields: []string{"firstName/type"}},
		{name: "firstName object", body: `{"firstName":{"a":"b"},"phone":"5550100"}`, wantFields: []string{"firstName/type"}, wantMsg: "not an object"},
		{name: "firstName array", body: `{"firstName":["Ada"],"phone":"5550100"}`, wantFields: []string{"firstName/type"}, wantMsg: "not an array"},
		{name: "firstName boolean", body: `{"firstName":true,"phone":"5550100"}`, wantFields: []string{"firstName/type"}, wantMsg: "not a boolean"},
		{name: "unknown field", body: `{"firstName":"Ada","phone":"5550100","nickname":"A"}`, wantFields: []string{"nickname/unknown"}, wantMsg: `"nickname" is not a field of a create command`},
		{name: "id on create", body: `{"id":"x","firstName":"Ada","phone":"5550100"}`, wantFields: []string{"id/unknown"}},
		{name: "field names are case sensitive", body: `{"FirstName":"Ada","phone":"5550100"}`, wantFields: []string{"FirstName/unknown", "firstName/required"}},
		{name: "unknown twice listed once", body: `{"firstName":"Ada","phone":"5550100","x":1,"x":2}`, wantFields: []string{"x/unknown"}},
		{name: "duplicate", body: `{"firstName":"Ada","phone":"5550100","phone":"5550101"}`, wantFields: []string{"phone/duplicate"}, wantMsg: "phone appears more than once"},
		{name: "duplicate thrice listed once", body: `{"firstName":"Ada","phone":"1","phone":"2","phone":"3"}`, wantFields: []string{"phone/duplicate"}},
		{name: "duplicate through an escape", body: `{"firstName":"Ada","phone":"5550100","\u0070hone":"5550101"}`, wantFields: []string{"phone/duplicate"}},
		{name: "several problems sorted", body: `{"phone":"1","gender":"X","firstName":"","zzz":0,"birthDate":5}`,
			wantFields: []string{"birthDate/type", "firstName/required", "gender/oneof", "phone/phone", "zzz/unknown"}, wantMsg: "(and 4 more problems)"},
		{name: "deep nesting in a string field", body: `{"firstName":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `,"phone":"5550100"}`, wantFields: []string{"firstName/type"}},
		{name: "brackets inside strings of a nested value", body: `{"firstName":[{"a":"]}\"]"}],"phone":"5550100"}`, wantFields: []string{"firstName/type"}},

		{name: "deep nesting beyond the parser's limit", body: `{"firstName":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, wantWhole: "body nests arrays and objects more than 10000 deep"},
		{name: "deep nesting, unclosed", body: `{"firstName":"[[","x":` + strings.Repeat(`[{"a":`, 6000), wantWhole: "more than 10000 deep"},
		{name: "deep nesting, within strings", body: `{"firstName":"` + strings.Repeat("[", 20000) + `"`, wantWhole: "unexpected end of JSON input"},
		{name: "empty body", body: ``, wantWhole: "body is empty"},
		{name: "blank body", body: " \n\t", wantWhole: "body is empty"},
		{name: "malformed", body: `{"firstName":"Ada",`, wantWhole: "body is not valid JSON: unexpected end of JSON input"},
		{name: "single quotes", body: `{'firstName':'Ada'}`, wantWhole: "not valid JSON"},
		{name: "trailing data", body: `{"firstName":"Ada","phone":"5550100"} {}`, wantWhole: "not valid JSON"},
		{name: "trailing comma", body: `{"firstName":"Ada","phone":"5550100",}`, wantWhole: "not valid JSON"},
		{name: "binary garbage", body: "\x00\x01\x02\x89PNG\r\n\x1a\n\xff\xfe", wantWhole: "not valid UTF-8"},
		{name: "control bytes", body: "\x00\x01\x02", wantWhole: "not valid JSON"},
		{name: "invalid UTF-8 in a string", body: "{\"firstName\":\"Ad\xe9\",\"phone\":\"5550100\"}", wantWhole: "not valid UTF-8"},
		{name: "byte order mark", body: "\ufeff{}", wantWhole: "not valid JSON"},
		{name: "array", body: `[{"firstName":"Ada","phone":"5550100"}]`, wantWhole: "body must be a JSON object, not an array"},
		{name: "string", body: `"Ada"`, wantWhole: "not a string"},
		{name: "number", body: `42`, wantWhole: "not a number"},
		{name: "null", body: `null`, wantWhole: "not null"},
		{name: "true", body: `true`, wantWhole: "not a boolean"},
	})
}

func TestDecodeUpdate(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "one field", op: "update", body: `{"lastName":"Byron"}`, wantCmd: updateCmd(crm.UpdateParams{LastName: refTo("Byron")})},
		{name: "clear cityId", op: "update", body: `{"cityId":null}`, wantCmd: updateCmd(crm.UpdateParams{CityID: crm.Null[string]()})},
		{name: "clear internalNote, set cityId", op: "update", body: `{"internalNote":null,"cityId":"c2"}`,
			wantCmd: updateCmd(crm.UpdateParams{InternalNote: crm.Null[string](), CityID: crm.Some("c2")})},
		{name: "id equal to the subject's", op: "update", body: `{"id":"cus_1","email":"a@b.co"}`, wantCmd: updateCmd(crm.UpdateParams{Email: refTo("a@b.co")})},
		{name: "every field", op: "update", body: `{"firstName":"Ada","lastName":"L","email":"ada@example.com","phone":"5550100","cityId":"c","birthDate":"2000-01-31","gender":"F","passcode":"p","number":"n","unsubscribed":false,"internalNote":"x"}`,
			wantCmd: updateCmd(crm.UpdateParams{FirstName: refTo("Ada"), LastName: refTo("L"), Email: refTo("ada@example.com"), Phone: refTo("5550100"),
				CityID: crm.Some("c"), BirthDate: refTo("2000-01-31"), Gender: refTo("F"), Passcode: refTo("p"), Number: refTo("n"),
				Unsubscribed: refTo(false), InternalNote: crm.Some("x")})},
		{name: "percent-decoded id", op: "update", id: "a.b c", body: `{"id":"a.b c","number":"7"}`,
			wantCmd: &Command{Op: "update", CustomerID: "a.b c", Update: crm.UpdateParams{Number: refTo("7")}}},

		{name: "id not the subject's", op: "update", body: `{"id":"cus_2","lastName":"B"}`, wantFields: []string{"id/eq_subject"}, wantMsg: `equal the subject's customer id "cus_1"`},
		{name: "id null", op: "update", body: `{"id":null,"lastName":"B"}`, wantFields: []string{"id/null"}},
		{name: "id number", op: "update", body: `{"id":1,"lastName":"B"}`, wantFields: []string{"id/type"}},
		{name: "id only", op: "update", body: `{"id":"cus_1"}`, wantWhole: "at least one field besides id"},
		{name: "empty object", op: "update", body: `{}`, wantWhole: "at least one field besides id"},
		{name: "empty body", op: "update", body: ``, wantWhole: "body is empty"},
		{name: "lastName null", op: "update", body: `{"lastName":null}`, wantFields: []string{"lastName/null"}, wantMsg: "lastName must not be null in an update command"},
		{name: "firstName blank", op: "update", body: `{"firstName":"  "}`, wantFields: []string{"firstName/required"}, wantMsg: "must not be empty or blank"},
		{name: "firstName null", op: "update", body: `{"firstName":null}`, wantFields: []string{"firstName/null"}},
		{name: "phoneCallingCode is no update field", op: "update", body: `{"phoneCallingCode":"+1"}`, wantFields: []string{"phoneCallingCode/unknown"}},
		{name: "phone bad", op: "update", body: `{"phone":"12"}`, wantFields: []string{"phone/phone"}},
		{name: "email bad", op: "update", body: `{"email":"@example.com"}`, wantFields: []string{"email/email"}},
		{name: "gender bad", op: "update", body: `{"gender":"X"}`, wantFields: []string{"gender/oneof"}},
		{name: "birthDate bad", op: "update", body: `{"birthDate":"2023-02-29"}`, wantFields: []string{"birthDate/date"}},
		{name: "cityId number", op: "update", body: `{"cityId":12}`, wantFields: []string{"cityId/type"}},
		{name: "duplicate null", op: "update", body: `{"cityId":null,"cityId":"c"}`, wantFields: []string{"cityId/duplicate"}},
		{name: "no customer id", op: "update", id: "-", body: `{"lastName":"B"}`, wantWhole: "needs the customer id"},
		{name: "array", op: "update", body: `[]`, wantWhole: "not an array"},
	})
}

func TestDecodeDelete(t *testing.T) {
	del := &Command{Op: "delete", CustomerID: decodeSubject}
	runDecodeCases(t, []decodeCase{
		{name: "empty", op: "delete", body: ``, wantCmd: del},
		{name: "blank", op: "delete", body: " \r\n\t", wantCmd: del},
		{name: "empty object", op: "delete", body: `{}`, wantCmd: del},
		{name: "empty object with spaces", op: "delete", body: " { \n } ", wantCmd: del},
		{name: "empty string", op: "delete", body: `""`, wantWhole: "a delete takes an empty body or {}"},
		{name: "array", op: "delete", body: `[]`, wantWhole: "a delete takes an empty body or {}"},
		{name: "null", op: "delete", body: `null`, wantWhole: "a delete takes an empty body or {}"},
		{name: "a field", op: "delete", body: `{"x":1}`, wantWhole: "a delete takes an empty body or {}"},
		{name: "id field", op: "delete", body: `{"id":"cus_1"}`, wantWhole: "a delete takes an empty body or {}"},
		{name: "two objects", op: "delete", body: `{}{}`, wantWhole: "a delete takes an empty body or {}"},
		{name: "unclosed", op: "delete", body: `{`, wantWhole: "a delete takes an empty body or {}"},
		{name: "invalid UTF-8", op: "delete", body: "\xff", wantWhole: "not valid UTF-8"},
		{name: "no customer id", op: "delete", id: "-", body: ``, wantWhole: "needs the customer id"},
		{name: "unknown op", op: "upsert", body: `{}`, wantWhole: `unknown op "upsert"`},
	})
}

func runDecodeCases(t *testing.T, cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			op, id := tc.op, tc.id
			if op == "" {
				op = "create"
			}
			switch {
			case id == "-":
				id = ""
			case id == "" && op != "create":
				id = decodeSubject
			}
			got, err := Decode(op, id, []byte(tc.body))
			if tc.wantCmd != nil {
				if err != nil {
					t.Fatalf("Decode: got error %v, want none", err)
				}
				if !reflect.DeepEqual(got, *tc.wantCmd) {
					t.Errorf("Decode:\ngot  %s\nwant %s", describe(got), describe(*tc.wantCmd))
				}
				return
			}
			checkRejected(t, err, tc.wantFields, tc.wantWhole, tc.wantMsg)
		})
	}
}

// checkRejected checks that err is a *ValidationError with the given
// fields ("field/rule"), or, with wantWhole, a whole-body error whose
// message holds wantWhole.
func checkRejected(t *testing.T, err error, wantFields []string, wantWhole, wantMsg string) {
	t.Helper()
	verr, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("Decode: got error %#v, want a *ValidationError", err)
	}
	if verr.Message == "" {
		t.Errorf("Message: got empty, want a message")
	}
	var got []string
	for _, f := range verr.Fields {
		got = append(got, f.Field+"/"+f.Rule)
		if f.Message == "" {
			t.Errorf("field %s/%s: got empty message, want one", f.Field, f.Rule)
		}
	}
	if !slices.Equal(got, wantFields) {
		t.Errorf("fields: got %q, want %q (message %q)", got, wantFields, verr.Message)
	}
	if wantWhole != "" && !strings.Contains(verr.Message, wantWhole) {
		t.Errorf("message: got %q, want it to hold %q", verr.Message, wantWhole)
	}
	if wantMsg != "" && len(verr.Fields) > 0 && !strings.Contains(verr.Fields[0].Message+" "+verr.Message, wantMsg) {
		t.Errorf("first field's message: got %q (summary %q), want it to hold %q", verr.Fields[0].Message, verr.Message, wantMsg)
	}
}

// describe writes a Command with its pointers followed, for failure
// messages.
func describe(c Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{Op:%q CustomerID:%q", c.Op, c.CustomerID)
	for _, v := range []reflect.Value{reflect.ValueOf(c.Create), reflect.ValueOf(c.Update)} {
		b.WriteString(" {")
		for i := range v.NumField() {
			f := v.Field(i)
			if f.IsZero() {
				continue
			}
			if f.Kind() == reflect.Pointer {
				f = f.Elem()
			}
			fmt.Fprintf(&b, " %s:%+v", v.Type().Field(i).Name, f.Interface())
		}
		b.WriteString(" }")
	}
	return b.String() + "}"
}

func TestDecodeErrorIsValidationError(t *testing.T) {
	_, err := Decode("create", "", []byte(`{"firstName":""}`))
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("errors.As: got false for %T, want true", err)
	}
	if got, want := err.Error(), "invalid command body: "+verr.Message; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
	if _, err := Decode("create", "", []byte(`{"firstName":"Ada","phone":"5550100"}`)); err != nil {
		t.Errorf("Decode: got error %#v, want a nil interface", err)
	}
}

func TestDecodeBodyLimit(t *testing.T) {
	// Exactly MaxBodyBytes is fine; a byte more is not, whatever it holds.
	pad := func(n int) []byte {
		b := []byte(`{"firstName":"Ada","phone":"5550100","internalNote":"`)
		b = append(b, bytes.Repeat([]byte("x"), n-len(b)-2)...)
		return append(b, `"}`...)
	}
	if _, err := Decode("create", "", pad(MaxBodyBytes)); err != nil {
		t.Errorf("%d bytes: got %v, want no error", MaxBodyBytes, err)
	}
	_, err := Decode("create", "", pad(MaxBodyBytes+1))
	checkRejected(t, err, nil, "body is 65537 bytes, over the limit of 65536", "")

	// 10 MB that is neither UTF-8 nor JSON is rejected for its size alone,
	// with no more work than a small body.
	huge := bytes.Repeat([]byte{0xff, '['}, 5<<20)
	_, err = Decode("create", "", huge)
	checkRejected(t, err, nil, "over the limit", "")
	allocs := testing.AllocsPerRun(20, func() { _, _ = Decode("update", "x", huge) })
	if allocs > 5 {
		t.Errorf("allocations to reject 10 MB: got %v, want at most 5", allocs)
	}
}

func TestDecodeManyFields(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"firstName":"Ada","phone":"5550100"`)
	n := 0
	for b.Len() < MaxBodyBytes-20 {
		fmt.Fprintf(&b, `,"a%d":1`, n)
		n++
	}
	b.WriteString(`,"a0":2}`) // a repeat is still one problem
	body := []byte(b.String())

	start := time.Now()
	_, err := Decode("create", "", body)
	elapsed := time.Since(start)

	verr, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("Decode: got %v, want a *ValidationError", err)
	}
	if got, want := len(verr.Fields), maxFieldErrors+1; got != want {
		t.Fatalf("fields: got %d, want %d", got, want)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("a%d", i)
	}
	slices.Sort(names)
	for i, f := range verr.Fields[:maxFieldErrors] {
		if f.Field != names[i] || f.Rule != "unknown" {
			t.Errorf("field %d: got %s/%s, want %s/unknown", i, f.Field, f.Rule, names[i])
		}
	}
	last := verr.Fields[maxFieldErrors]
	want := FieldError{Field: "", Rule: "too_many", Message: fmt.Sprintf("... and %d more", n-maxFieldErrors)}
	if last != want {
		t.Errorf("last field: got %+v, want %+v", last, want)
	}
	// Linear work takes well under a millisecond; this bound only catches
	// quadratic work (seconds), even under the race detector.
	if elapsed > 250*time.Millisecond {
		t.Errorf("Decode of %d fields: got %v, want well under 250ms", n, elapsed)
	}
}

// TestDecodeAbsentNullValue checks that the three states of a nullable
// field, and absent versus value of the others, stay apart.
func TestDecodeAbsentNullValue(t *testing.T) {
	for _, tc := range []struct {
		body string
		want crm.Nullable[string]
	}{
		{`{"lastName":"B"}`, crm.Nullable[string]{}},
		{`{"internalNote":null}`, crm.Null[string]()},
		{`{"internalNote":""}`, crm.Some("")},
		{`{"internalNote":"n"}`, crm.Some("n")},
	} {
		got, err := Decode("update", decodeSubject, []byte(tc.body))
		if err != nil {
			t.Fatalf("%s: got error %v, want none", tc.body, err)
		}
		if got.Update.InternalNote != tc.want {
			t.Errorf("%s: internalNote got %+v, want %+v", tc.body, got.Update.InternalNote, tc.want)
		}
		if got.Update.Email != nil || got.Update.FirstName != nil || !got.Update.CityID.IsZero() {
			t.Errorf("%s: absent fields got set: %+v", tc.body, got.Update)
		}
	}
}

// TestDecodeConcurrent runs Decode from many goroutines (with -race, it
// checks the shared validator).
func TestDecodeConcurrent(t *testing.T) {
	bodies := []string{
		`{"firstName":"Ada","phone":"5550100","email":"ada@example.com"}`,
		`{"firstName":"","phone":"1","email":"x"}`,
	}
	done := make(chan error)
	for i := range 8 {
		go func() {
			var err error
			for j := range 200 {
				_, e := Decode("create", "", []byte(bodies[(i+j)%2]))
				if ((i+j)%2 == 0) != (e == nil) {
					err = fmt.Errorf("body %d: got %v", (i+j)%2, e)
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

var benchCreate = []byte(`{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com","phone":"+44 20 7946 0958","birthDate":"1815-12-10","gender":"F","unsubscribed":false}`)

func BenchmarkDecodeCreate(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchCreate)))
	for b.Loop() {
		if _, err := Decode("create", "", benchCreate); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeUpdate(b *testing.B) {
	body := []byte(`{"id":"cus_1","email":"ada@example.org","cityId":null,"internalNote":"moved"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Decode("update", decodeSubject, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRejected(b *testing.B) {
	body := []byte(`{"firstName":"","phone":"12","gender":"X","nickname":"A"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode("create", "", body); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkDecodeManyFields(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"firstName":"Ada"`)
	for i := 0; sb.Len() < MaxBodyBytes-20; i++ {
		fmt.Fprintf(&sb, `,"a%d":1`, i)
	}
	sb.WriteString("}")
	body := []byte(sb.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Decode("create", "", body); err == nil {
			b.Fatal("accepted")
		}
	}
}
