package crm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// decoders decodes body as the 2xx answer of each operation, returning the
// customers it holds.
var decoders = map[string]func(body []byte) ([]Customer, error){
	"create": func(b []byte) ([]Customer, error) { _, err := decodeOK[createData](b); return nil, err },
	"update": func(b []byte) ([]Customer, error) { _, err := decodeOK[doneData](b); return nil, err },
	"delete": func(b []byte) ([]Customer, error) { _, err := decodeOK[doneData](b); return nil, err },
	"get": func(b []byte) ([]Customer, error) {
		env, err := decodeOK[getData](b)
		if err != nil {
			return nil, err
		}
		return []Customer{*env.Data.User}, nil
	},
	"list": func(b []byte) ([]Customer, error) {
		env, err := decodeOK[ListPage](b)
		if err != nil {
			return nil, err
		}
		return env.Data.Users, nil
	},
	"export": func(b []byte) ([]Customer, error) {
		env, err := decodeOK[ExportPage](b)
		if err != nil {
			return nil, err
		}
		return env.Data.Items, nil
	},
}

const record = `{"id":"cus_1","firstName":"Ada","lastName":null,"email":"ada@example.com","phone":"5550100",
"phoneCountry":"US","phoneCountryCalling":"1","number":"N-1","cityId":null,"birthDate":"1815-12-10",
"gender":"F","unsubscribed":false,"internalNote":null,"archivedAt":null,"archivedBy":null,"archivedVia":null,
"createdAt":"2026-01-01T00:00:00.000Z","createdVia":"api","createdBy":"u-1",
"updatedAt":"2026-11-27T10:00:00.000Z","updatedVia":"api","updatedBy":"u-1"}`

// FuzzDecodeResponse feeds arbitrary bytes to every operation's answer
// decoder, as a 2xx body and as error bodies: nothing may panic, a decoded
// answer's customers all have an id and their Raw is valid JSON, and an
// error's code is always safe to pass on.
func FuzzDecodeResponse(f *testing.F) {
	seeds := []string{
		`{"app":"a","service":"s","warnings":[],"instanceId":"i","requestId":"r","data":{"succeed":true,"id":"cus_1"}}`,
		`{"warnings":[{"w":1}],"requestId":"r","data":{"succeed":true}}`,
		`{"data":{"user":` + record + `}}`,
		`{"data":{"users":[` + record + `,` + record + `],"next":"n","query":{}}}`,
		`{"data":{"items":[` + record + `],"next":"o-2"}}`,
		`{"data":{"items":[{"id":"x","gender":{"a":[1,{"b":null}]}}]}}`,
		`{"error":{"code":"DUPLICATE_PHONE"}}`,
		`{"error":{"code":"NotFound","message":"no such customer"},"requestId":"r"}`,
		`{"error":{"code":42}}`, `{"error":"Unauthorized"}`, `{"error":{"code":"bad code with spaces"}}`,
		`{"message":"m"}`, `<html><body>502</body></html>`,
		``, `null`, `{`, `[]`, `"x"`, `{"data":null}`, `{"data":{}}`, `{"data":{"items":[null]}}`,
		`{"data":{"items":[{"id":1}]}}`, `{"data":{"items":{}}}`, `{"data":{"user":null}}`,
		`{"data":{"succeed":false,"id":"x"}}`, `{"warnings":"not an array","data":{"succeed":true,"id":"x"}}`,
		`{"data":{"items":[` + record + `]}} trailing`, "\xff\xfe{\"data\":1}",
		`{"data":{"items":[{"id":"a"}]},"data":{"items":[{"id":"b"}]}}`,
		`{"Data":{"items":[{"id":"a"}]}}`, `{"data":{"ITEMS":[{"id":"a"}]}}`,
		`{"\u0064ata":{"items":[{"id":"a"}]}}`, `{"d\"":1,"data":{"items":[ {"id":"q\"\\","x":"]}"} ,{"id":"b"}]}}`,
		`{"data":{"user":{"id":"a","id":"b"}}}`, `{"data":{"users":[{"id":"a","firstName":"x\u0041"}],"users2":[]}}`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		for op, decode := range decoders {
			cs, err := decode(body)
			if err != nil {
				continue
			}
			for i, c := range cs {
				if c.ID == "" {
					t.Errorf("%s: customer %d has no id", op, i)
				}
				// Raw is the record that was decoded: decoding it alone
				// gives the same customer.
				var again Customer
				if err := json.Unmarshal(c.Raw, &again); err != nil {
					t.Fatalf("%s: customer %d Raw %q: %v", op, i, c.Raw, err)
				}
				again.Raw = c.Raw
				if !reflect.DeepEqual(again, c) {
					t.Errorf("%s: customer %d: Raw %s decodes to %+v, want %+v", op, i, c.Raw, again, c)
				}
			}
		}
		// The walk never panics, even on bytes that are not JSON.
		_, _ = recordSpans(body, "items")
		for _, status := range []int{400, 404, 429, 503} {
			h := http.Header{"Retry-After": {string(body)}}
			e := errorFromAnswer("get", "cus_1", status, h, body, now)
			if e.Code != "" && !validCode(e.Code) {
				t.Errorf("%d: got code %q", status, e.Code)
			}
			if e.RetryAfter < 0 || e.RetryAfter > MaxRetryAfter {
				t.Errorf("%d: got Retry-After %s", status, e.RetryAfter)
			}
			if len(e.Message) > 1024 {
				t.Errorf("%d: got a message of %d bytes", status, len(e.Message))
			}
			_ = e.Error()
			_ = e.ResultCode()
			_ = Classify(e)
		}
		_ = hasWarnings(warningsOf(body))
	})
}

// TestDecodeRaw shows which answers get Raw from the walk and which are
// refused because encoding/json could have read them otherwise.
func TestDecodeRaw(t *testing.T) {
	tests := []struct {
		name string
		body string
		raws []string // nil: refused
	}{
		{"plain", `{"data":{"items":[{"id":"a"},{"id":"b"}]}}`, []string{`{"id":"a"}`, `{"id":"b"}`}},
		{"spaces and tricky strings", "{ \"data\" : { \"next\":\"]}\\\"\", \"items\" : [ {\"id\":\"a\\\\\",\"x\":\"}]{[\"} ,\n{\"id\":\"b\"}\t] } }",
			[]string{`{"id":"a\\","x":"}]{["}`, `{"id":"b"}`}},
		{"no items", `{"data":{}}`, []string{}},
		{"null items", `{"data":{"items":null}}`, []string{}},
		{"duplicated data", `{"data":{"items":[{"id":"a"}]},"data":{"items":[{"id":"b"}]}}`, nil},
		{"duplicated items", `{"data":{"items":[{"id":"a"}],"items":[{"id":"b"}]}}`, nil},
		{"Data", `{"Data":{"items":[{"id":"a"}]}}`, nil},
		{"ITEMS", `{"data":{"ITEMS":[{"id":"a"}]}}`, nil},
		{"escaped data", `{"\u0064ata":{"items":[{"id":"a"}]}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := decodeOK[ExportPage]([]byte(tt.body))
			if tt.raws == nil {
				if err == nil {
					t.Fatalf("got %d items and no error, want the answer refused", len(env.Data.Items))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range env.Data.Items {
				got = append(got, string(c.Raw))
			}
			if len(got) != len(tt.raws) || (len(got) > 0 && !reflect.DeepEqual(got, tt.raws)) {
				t.Errorf("got %q, want %q", got, tt.raws)
			}
		})
	}
}

// exportBody returns an export answer of n customers.
func exportBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"app":"crm","service":"customers","warnings":[],"instanceId":"i-1","requestId":"r-1","data":{"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"cus_%06d","firstName":"Ada","lastName":"Lovelace","email":"ada%d@example.com",`+
			`"phone":"+1555%07d","phoneCountry":"US","phoneCountryCalling":"1","number":"N-%d","cityId":null,`+
			`"birthDate":"1815-12-10","gender":{"value":"F"},"unsubscribed":false,"internalNote":"a note about customer %d",`+
			`"archivedAt":null,"archivedBy":null,"archivedVia":null,"createdAt":"2026-01-01T00:00:00.000Z",`+
			`"createdVia":"api","createdBy":"u-1","updatedAt":"2026-11-27T10:00:00.%03dZ","updatedVia":"api","updatedBy":"u-1"}`,
			i, i, i, i, i, i%1000)
	}
	b.WriteString(`],"next":"cursor-1000"}}`)
	return []byte(b.String())
}

// BenchmarkDecodeExportPage decodes a page of 1,000 customers (about 600
// KB) as the client does: one decode, Raw set for every record. Its
// structs-only reference is encoding/json into the same structs without
// Raw: the difference is what keeping Raw costs.
func BenchmarkDecodeExportPage(b *testing.B) {
	body := exportBody(1000)
	b.Run("client", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			env, err := decodeOK[ExportPage](body)
			if err != nil || len(env.Data.Items) != 1000 || env.Data.Items[999].Raw == nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("structs-only", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var env envelope[ExportPage]
			if err := json.Unmarshal(body, &env); err != nil {
				b.Fatal(err)
			}
		}
	})
}
