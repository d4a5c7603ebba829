package crm

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeExportPage feeds arbitrary bytes, as the body of a 2xx export
// answer, to the decoding Client.ExportPage uses (decodeOK[ExportPage],
// through send). Nothing may panic. An error is a non-nil error with a
// message. A decoded page agrees with encoding/json reading the same body:
// the same next and the same records, each with an id, and each record's
// Raw is exactly the bytes of its element of data.items, a JSON object that
// decodes alone to the same customer.
func FuzzDecodeExportPage(f *testing.F) {
	seeds := []string{
		// Pages as the CRM sends them.
		`{"app":"crm","service":"customers","warnings":[],"instanceId":"i-1","requestId":"r-1","data":{"items":[` + record + `,` + record + `],"next":"o-2"}}`,
		string(exportBody(3)),
		`{"data":{"items":[],"next":""}}`,
		`{"data":{"items":[]}}`,
		`{"data":{"items":[{"id":"a"}]}}`,
		`{"data":{"items":null,"next":null}}`,
		`{"data":{"items":[{"id":"a","lastName":null,"cityId":null,"gender":null,"unsubscribed":null}],"next":null}}`,
		// Unicode escapes, in values, names and ids.
		`{"data":{"items":[{"id":"cus_\u00e9\ud83d\ude00","firstName":"\u0041da \"q\" \\ \/ \ud800","x\u0079":1}]}}`,
		`{"data":{"items":[{"\u0069d":"a"}]}}`,
		"{\"data\":{\"items\":[{\"id\":\"\xff\xfe\",\"firstName\":\"\u2028\"}]}}",
		// Numbers the records carry but the structs do not read.
		`{"data":{"items":[{"id":"a","n":1e999999999999999999,"m":-0.000000000000000000001,"k":123456789012345678901234567890}]}}`,
		`{"data":{"items":[{"id":"a","unsubscribed":1e3}]}}`,
		// Duplicate members: in a record (the last counts), or data and
		// items themselves (refused).
		`{"data":{"items":[{"id":"a","id":"b","firstName":"x","firstName":"y"}]}}`,
		`{"data":{"items":[{"id":"a"}],"items":[{"id":"b"}]}}`,
		`{"data":{"items":[{"id":"a"}]},"data":{"items":[{"id":"b"}]}}`,
		`{"data":{"Items":[{"id":"a"}]}}`,
		`{"DATA":{"items":[{"id":"a"}]}}`,
		// Records that are not customers.
		`{"data":{"items":[{"id":""}]}}`,
		`{"data":{"items":[{}]}}`,
		`{"data":{"items":[null]}}`,
		`{"data":{"items":["a"]}}`,
		`{"data":{"items":[{"id":1}]}}`,
		`{"data":{"items":{"id":"a"}}}`,
		`{"data":{"items":[{"id":"a"}],"next":7}}`,
		// Not a page.
		`{"data":{"items":[{"id":"a"}]}} trailing`,
		`{"data":{"items":[{"id":"a"}]}}{}`,
		`{"data":{"items":[{"id":"a"}]}`,
		`{"data":null}`, `{"data":{}}`, `{}`, `[]`, `null`, ``, ` `, `"data"`,
		`<html><body>502 Bad Gateway</body></html>`,
		`{"data":{"items":[{"id":"a","x":"]}\"{["},{"id":"b"}]}}`,
		`{"data":{"items":[` + strings.Repeat(`{"a":[`, 500) + strings.Repeat(`]}`, 500) + `]}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := decodeOK[ExportPage](body)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("got an error with no message")
			}
			return
		}
		if env.Data == nil {
			t.Fatalf("no error and no data")
		}
		page := *env.Data

		// encoding/json reading the same body: the same page, and the
		// records' own bytes.
		if !json.Valid(body) {
			t.Fatalf("accepted a body that is not valid JSON")
		}
		var ref envelope[ExportPage]
		if err := json.Unmarshal(body, &ref); err != nil || ref.Data == nil {
			t.Fatalf("encoding/json: got %v, data %v, for an accepted body", err, ref.Data)
		}
		var raws struct {
			Data struct {
				Items []json.RawMessage `json:"items"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &raws); err != nil {
			t.Fatalf("encoding/json, items as raw: %v", err)
		}
		if page.Next != ref.Data.Next {
			t.Errorf("next: got %q, encoding/json %q", page.Next, ref.Data.Next)
		}
		if len(page.Items) != len(ref.Data.Items) || len(page.Items) != len(raws.Data.Items) {
			t.Fatalf("got %d items, encoding/json %d (%d raw)", len(page.Items), len(ref.Data.Items), len(raws.Data.Items))
		}
		for i, c := range page.Items {
			if c.ID == "" {
				t.Errorf("item %d: no id", i)
			}
			if !json.Valid(c.Raw) {
				t.Fatalf("item %d: Raw %q is not valid JSON", i, c.Raw)
			}
			if len(c.Raw) == 0 || c.Raw[0] != '{' {
				t.Fatalf("item %d: Raw %q is not an object", i, c.Raw)
			}
			if !bytes.Equal(c.Raw, raws.Data.Items[i]) {
				t.Fatalf("item %d: Raw %q, encoding/json's element %q", i, c.Raw, raws.Data.Items[i])
			}
			var again Customer
			if err := json.Unmarshal(c.Raw, &again); err != nil {
				t.Fatalf("item %d: Raw %q: %v", i, c.Raw, err)
			}
			if again.ID != c.ID {
				t.Errorf("item %d: Raw decodes to id %q, the page has %q", i, again.ID, c.ID)
			}
			again.Raw = c.Raw
			if !reflect.DeepEqual(again, c) {
				t.Errorf("item %d: Raw decodes to %+v, the page has %+v", i, again, c)
			}
			want := ref.Data.Items[i]
			want.Raw = c.Raw
			if !reflect.DeepEqual(c, want) {
				t.Errorf("item %d: got %+v, encoding/json %+v", i, c, want)
			}
		}
	})
}
