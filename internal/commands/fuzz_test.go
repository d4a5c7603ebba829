package commands

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gormic/crm-bridge/internal/crm"
)

// fuzzSeeds are bodies for FuzzDecode to start from; each is tried with
// every op.
var fuzzSeeds = []string{
	``,
	` `,
	`{}`,
	` { } `,
	`[]`,
	`""`,
	`null`,
	`0`,
	`{"x":1}`,
	`{"firstName":"Ada","phone":"5550100"}`,
	`{"firstName":"Ada","lastName":null,"email":"ada@example.com","phone":"+44 (20) 7946-0958","phoneCallingCode":"+44","cityId":"c1","birthDate":"1815-12-10","gender":"F","passcode":"1234","number":"N-1","unsubscribed":true,"internalNote":null}`,
	`{"id":"cus_1","cityId":null,"internalNote":"n","lastName":"L","firstName":"A","unsubscribed":false}`,
	`{"firstName":"A\u0064a \"q\" \\ \u00e9 \ud83d\ude00 \ud800","phone":"555\u00300100"}`,
	`{"\u0066irstName":"Ada","phone":"5550100","\u0070hone":"1"}`,
	`{"firstName":"","phone":"1","gender":"X","birthDate":"2023-02-29","email":"a@b","zz":[1,{"a":"]"}]}`,
	`{"firstName":[[[[{"a":[]}]]]],"phone":{"x":"}"}}`,
	`{"firstName":"Ada","phone":"5550100"} x`,
	`{"firstName":"Ada","phone":"5550100",}`,
	"{\"firstName\":\"\xff\"}",
	`{"a1":1,"a2":1,"a3":1,"a4":1,"a5":1,"a6":1,"a7":1,"a8":1,"a9":1,"a10":1,"a11":1,"a12":1,"a13":1,"a14":1,"a15":1,"a16":1,"a17":1,"a18":1,"a19":1,"a20":1,"a21":1,"a1":2}`,
	`{"firstName":"Ada","phone":"5550100","unsubscribed":1e3}`,
	`{"firstName":"Ada","phone":"5550100","internalNote":"<&>\u2028"}`,
}

func FuzzDecode(f *testing.F) {
	for _, body := range fuzzSeeds {
		for _, op := range []string{"create", "update", "delete"} {
			f.Add(op, []byte(body))
		}
	}
	f.Add("upsert", []byte(`{}`))
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		cmd, err := Decode(op, decodeSubject, body)
		if err != nil {
			verr, ok := err.(*ValidationError)
			if !ok {
				t.Fatalf("error: got %T %v, want a *ValidationError", err, err)
			}
			checkValidationError(t, verr)
			return
		}
		if cmd.Op != op {
			t.Fatalf("Op: got %q, want %q", cmd.Op, op)
		}
		switch op {
		case "create":
			var viaJSON crm.CreateParams
			checkLikeEncodingJSON(t, body, &viaJSON, &cmd.Create, &viaJSON)
			checkReencoded(t, cmd, cmd.Create)
		case "update":
			var viaJSON struct {
				crm.UpdateParams
				ID *string `json:"id"`
			}
			checkLikeEncodingJSON(t, body, &viaJSON.UpdateParams, &cmd.Update, &viaJSON)
			if viaJSON.ID != nil && *viaJSON.ID != decodeSubject {
				t.Fatalf("id: got %q accepted, want only %q", *viaJSON.ID, decodeSubject)
			}
			checkReencoded(t, cmd, cmd.Update)
		case "delete":
			if cmd.CustomerID != decodeSubject || !reflect.ValueOf(cmd.Create).IsZero() || !reflect.ValueOf(cmd.Update).IsZero() {
				t.Fatalf("delete: got %+v, want only Op and CustomerID", cmd)
			}
		default:
			t.Fatalf("op %q: got %+v, want a *ValidationError", op, cmd)
		}
	})
}

// checkValidationError checks the shape of a ValidationError: a message,
// at most 20 fields then a "too_many" entry, sorted, each with a message.
func checkValidationError(t *testing.T, verr *ValidationError) {
	t.Helper()
	if verr.Message == "" {
		t.Fatalf("Message: got empty, want a message")
	}
	fields := verr.Fields
	if n := len(fields); n > 0 && fields[n-1].Rule == "too_many" {
		if n != maxFieldErrors+1 || fields[n-1].Field != "" {
			t.Fatalf("too_many entry: got %d fields and %+v, want %d and an empty field", n, fields[n-1], maxFieldErrors+1)
		}
		fields = fields[:n-1]
	}
	if len(fields) > maxFieldErrors {
		t.Fatalf("fields: got %d, want at most %d", len(fields), maxFieldErrors)
	}
	for i, fe := range fields {
		if fe.Rule == "" || fe.Rule == "too_many" || fe.Message == "" {
			t.Fatalf("field %d: got %+v, want a rule and a message", i, fe)
		}
		if i > 0 {
			prev := fields[i-1]
			if prev.Field > fe.Field || prev.Field == fe.Field && prev.Rule >= fe.Rule {
				t.Fatalf("fields %d and %d: got %+v before %+v, want sorted by field then rule, no repeats", i-1, i, prev, fe)
			}
		}
	}
}

// checkLikeEncodingJSON checks that encoding/json, decoding an accepted
// body into target (got being the part of it to compare), gets the same
// values as Decode did (want). Decode also rejects duplicate names, where
// encoding/json keeps the last value.
func checkLikeEncodingJSON[T any](t *testing.T, body []byte, got, want *T, target any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		t.Fatalf("encoding/json: got %v for a body Decode accepted, want no error", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("encoding/json got %+v, Decode got %+v, want the same", *got, *want)
	}
}

// checkReencoded checks that the params of an accepted command, encoded
// as the client would send them, decode to the same command.
func checkReencoded(t *testing.T, cmd Command, params any) {
	t.Helper()
	again, err := json.Marshal(params)
	if err != nil {
		t.Fatalf("json.Marshal(%+v): %v", params, err)
	}
	got, err := Decode(cmd.Op, cmd.CustomerID, again)
	if err != nil {
		t.Fatalf("Decode(%s): got %v, want the re-encoded body accepted", again, err)
	}
	if !reflect.DeepEqual(got, cmd) {
		t.Fatalf("Decode(%s): got %s, want %s", again, describe(got), describe(cmd))
	}
}
