package commands

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/schemas"
)

func TestResultJSON(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		name string
		res  Result
		want string
	}{
		{
			name: "applied",
			res: Result{CommandID: "8d1c", Op: "create", Status: StatusApplied, CustomerID: "cus_123", Attempts: 2,
				FinishedAt: time.Date(2026, 11, 27, 10, 0, 0, 123_456_789, time.UTC)},
			want: `{"commandId":"8d1c","op":"create","status":"applied","customerId":"cus_123","attempts":2,"error":null,"finishedAt":"2026-11-27T10:00:00.123Z"}`,
		},
		{
			name: "rejected, in another zone, whole seconds",
			res: Result{CommandID: "c2", Op: "create", Status: StatusRejected,
				Error:      Rejected(&ValidationError{Message: "phone is required", Fields: []FieldError{{Field: "phone", Rule: "required", Message: "phone is required"}}}),
				FinishedAt: time.Date(2026, 11, 27, 11, 0, 5, 0, paris)},
			want: `{"commandId":"c2","op":"create","status":"rejected","attempts":0,"error":{"code":"VALIDATION","message":"phone is required","fields":[{"field":"phone","rule":"required","message":"phone is required"}]},"finishedAt":"2026-11-27T10:00:05.000Z"}`,
		},
		{
			name: "failed, fields nil",
			res: Result{CommandID: "c3", Op: "delete", Status: StatusFailed, CustomerID: "a.b", Attempts: 7,
				Error:      &ResultError{Code: "CRM_UNAVAILABLE", Message: "crm: connection refused"},
				FinishedAt: time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.UTC)},
			want: `{"commandId":"c3","op":"delete","status":"failed","customerId":"a.b","attempts":7,"error":{"code":"CRM_UNAVAILABLE","message":"crm: connection refused","fields":[]},"finishedAt":"2026-01-02T03:04:05.999Z"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.res)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("Marshal:\ngot  %s\nwant %s", got, tc.want)
			}
			if err := schemas.Validate(schemas.Result, got); err != nil {
				t.Errorf("got %v, want the result valid", err)
			}
			// A pointer encodes the same.
			if p, _ := json.Marshal(&tc.res); string(p) != string(got) {
				t.Errorf("Marshal(&r): got %s, want %s", p, got)
			}
			// It decodes back, FinishedAt to the millisecond.
			var back Result
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			want := tc.res
			want.FinishedAt = want.FinishedAt.UTC().Truncate(time.Millisecond)
			if want.Error != nil && want.Error.Fields == nil {
				want.Error = &ResultError{Code: want.Error.Code, Message: want.Error.Message, Fields: []FieldError{}}
			}
			if !back.FinishedAt.Equal(want.FinishedAt) {
				t.Errorf("FinishedAt: got %v, want %v", back.FinishedAt, want.FinishedAt)
			}
			back.FinishedAt, want.FinishedAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(back, want) {
				t.Errorf("Unmarshal: got %+v, want %+v", back, want)
			}
		})
	}
}

func TestRejected(t *testing.T) {
	v := &ValidationError{Message: "body is not valid UTF-8"}
	got := Rejected(v)
	want := &ResultError{Code: CodeValidation, Message: v.Message, Fields: []FieldError{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Rejected(whole body): got %+v, want %+v", got, want)
	}

	v = &ValidationError{Message: "m", Fields: []FieldError{{Field: "phone", Rule: "phone", Message: "p"}}}
	got = Rejected(v)
	v.Fields[0].Field = "changed"
	if got.Fields[0].Field != "phone" {
		t.Errorf("Rejected shares its fields with the ValidationError: got %q after a change, want %q", got.Fields[0].Field, "phone")
	}
}

// TestRejectedFromDecode checks the path the processor takes: a body's
// ValidationError, as a result's error.
func TestRejectedFromDecode(t *testing.T) {
	_, err := Decode("create", "", []byte(`{"firstName":"Ada","phone":"12"}`))
	verr, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("Decode: got %v, want a *ValidationError", err)
	}
	b, err := json.Marshal(Rejected(verr))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"code":"VALIDATION","message":"phone must hold 4 to 20 digits, and besides digits only + - . ( ) and spaces","fields":[{"field":"phone","rule":"phone","message":"phone must hold 4 to 20 digits, and besides digits only + - . ( ) and spaces"}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

// TestResultEncodeIsMarshal checks that encode, which writes the common
// result directly, writes exactly what json.Marshal does, on its fast path
// and off it.
func TestResultEncodeIsMarshal(t *testing.T) {
	at := time.Date(2026, 12, 2, 8, 0, 0, 987_654_321, time.FixedZone("X", -5*3600))
	ids := []string{"", "c1", "8d1c-4e2a", "a.b_c~d", "<b>&amp;", `quo"te`, `back\slash`, "tab\there", "é", "\u2028", "\xff", "~ !#$%'()*+,-./:;=?@[]^`{|}"}
	for _, id := range ids {
		for _, r := range []Result{
			{CommandID: id, Op: "update", Status: StatusApplied, CustomerID: "cus_1", Attempts: 1, FinishedAt: at},
			{CommandID: "c", Op: "create", Status: StatusApplied, CustomerID: id, Attempts: 12, FinishedAt: at},
			{CommandID: id, Op: "delete", Status: StatusApplied, Attempts: 0, FinishedAt: time.Time{}},
			{CommandID: id, Op: "create", Status: StatusApplied, CustomerID: "x", Warnings: json.RawMessage(`[ {"code": "W"} ]`), FinishedAt: at},
			{CommandID: id, Op: "update", Status: StatusFailed, Error: &ResultError{Code: "CRM_TIMEOUT", Message: id}, FinishedAt: at},
		} {
			want, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.encode()
			if err != nil {
				t.Fatalf("encode(%+v): %v", r, err)
			}
			if string(got) != string(want) {
				t.Errorf("encode:\ngot  %s\nwant %s", got, want)
			}
		}
	}
}
