package crm

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzExportDecodeAgrees checks decodeExportPage against decodeStructs,
// the decoding through encoding/json it replaces for export pages: the
// same envelope (request id, warnings, every customer's fields and Raw,
// next) and the same error, for any body.
func FuzzExportDecodeAgrees(f *testing.F) {
	for _, s := range []string{
		string(exportBody(3)),
		`{"requestId":"r","warnings":null,"data":{"items":[{"id":"a","gender":null,"lastName":null,"unsubscribed":true}],"next":"n"}}`,
		`{"requestId":null,"warnings":[{"code":"W"}],"data":{"items":null,"next":null}}`,
		`{"requestId":"r","data":{"items":[]}}`,
		`{"data":{"items":[{"id":"a","lastName":"x","lastName":"y","gender":"F","gender":{"v":1}}]}}`,
		`{"data":{"items":[{"ID":"a"}]}}`,
		`{"data":{"items":[{"id":"a","FirstName":"b"}]}}`,
		`{"data":{"items":[{"id":"a","\u0066irstName":"b"}]}}`,
		`{"data":{"items":[{"id":"a","naïve":"b"}]}}`,
		`{"data":{"items":[{"id":"a\u00e9\n","firstName":"\ud800"}]}}`,
		"{\"data\":{\"items\":[{\"id\":\"\xff\",\"number\":\"x\"}]}}",
		`{"data":{"items":[{"id":"a","phone":5}]}}`,
		`{"data":{"items":[{"id":"a","unsubscribed":"yes"}]}}`,
		`{"data":{"items":[{"id":"a","cityId":false}]}}`,
		`{"data":{"items":[{"id":"a","raw":"r","-":1,"other":{"id":"b"}}]}}`,
		`{"data":{"items":[null,{"id":"a"}]}}`,
		`{"data":{"items":[{"id":"a"}],"Next":"x"}}`,
		`{"data":{"items":[{"id":"a"}],"next":"x","next":"y"}}`,
		`{"data":{"items":[{"id":"a"}]},"requestId":"a","requestId":"b"}`,
		`{"Data":{"items":[{"id":"a"}]}}`,
		`{"data":[]}`, `{"data":"x"}`, `{"data":null}`, `[]`, `null`, `"x"`, ``, `{`,
		`{"data":{"items":[{"id":"a"}]}} x`,
		` {"data" : { "items" : [ { "id" : "a" , "updatedAt" : "t" } ] , "next" : "" } } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotErr := decodeExportPage(body)
		want, wantErr := decodeStructs[ExportPage](body)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("error: got %v, want %v", gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", describe(got), describe(want))
		}
	})
}

// describe is an envelope for a failure's message.
func describe(env envelope[ExportPage]) string {
	var b strings.Builder
	b.WriteString("request " + env.RequestID + " warnings " + string(env.Warnings))
	if env.Data != nil {
		b.WriteString(" next " + env.Data.Next)
		for _, c := range env.Data.Items {
			b.WriteString(" " + c.ID + ":" + string(c.Raw))
		}
	}
	return b.String()
}

// BenchmarkExportDecode compares, on BenchmarkDecodeExportPage's page,
// decodeExportPage (walk) with the decoding it replaces (encoding/json,
// then recordSpans).
func BenchmarkExportDecode(b *testing.B) {
	body := exportBody(1000)
	for _, bc := range []struct {
		name   string
		decode func([]byte) (envelope[ExportPage], error)
	}{
		{"walk", decodeExportPage},
		{"encoding-json", decodeStructs[ExportPage]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				env, err := bc.decode(body)
				if err != nil || len(env.Data.Items) != 1000 || env.Data.Items[999].Raw == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
