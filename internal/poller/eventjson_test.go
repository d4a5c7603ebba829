package poller

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// referenceJSON is how the event was encoded before appendJSON: through
// encoding/json, which appendJSON must match byte for byte.
func referenceJSON(e Event) ([]byte, error) {
	if e.Fields == nil {
		e.Fields = []string{}
	}
	if e.Truncated {
		return json.Marshal(struct {
			CustomerID string   `json:"customerId"`
			Change     string   `json:"change"`
			Fields     []string `json:"fields"`
			Truncated  bool     `json:"truncated"`
			UpdatedAt  string   `json:"updatedAt"`
			DetectedAt string   `json:"detectedAt"`
		}{e.CustomerID, e.Change, e.Fields, true, e.UpdatedAt, e.DetectedAt.UTC().Format(timeLayout)})
	}
	w := struct {
		CustomerID string          `json:"customerId"`
		Change     string          `json:"change"`
		Fields     []string        `json:"fields"`
		Before     json.RawMessage `json:"before"`
		After      json.RawMessage `json:"after"`
		UpdatedAt  string          `json:"updatedAt"`
		DetectedAt string          `json:"detectedAt"`
	}{e.CustomerID, e.Change, e.Fields, e.Before, e.After, e.UpdatedAt, e.DetectedAt.UTC().Format(timeLayout)}
	if len(w.Before) == 0 {
		w.Before = nil
	}
	if len(w.After) == 0 {
		w.After = nil
	}
	return json.Marshal(w)
}

func FuzzEventJSON(f *testing.F) {
	f.Add("cus_1", "updated", "lastName", `{"id":"cus_1", "note":"a <b> & c\u2028"}`, "{\n \"x\" : [1, 2.50, \"\u2029\"]}", "2026-11-27T10:00:00Z", false, int64(1))
	f.Add("a\"b\\c<>&\x01é\xff", "created", "", "", `{"k":"v"}`, "", false, int64(-5))
	f.Add("cus_2", "deleted", "f\u2028", `null`, ``, "\t", true, int64(1<<40))
	f.Add("cus_3", "updated", "a", `{"id":`, `{}`, "", false, int64(0))
	// Records encoding/json refuses, which the fast path must refuse too.
	for _, r := range []string{"{\"a\":\"\x01\"}", `{"a":01}`, `{"a":1.}`, `{"a":"\x"}`, `{"a":tru}`, `{"a":-}`,
		`{"a":1e}`, `{"a":[1,]}`, `{"a":1,}`, `{"a":"\u12"}`, `{"a":NaN}`, `{"a":+1}`, `{"a":.5}`, "{\"\x00\":1}"} {
		f.Add("cus_6", "created", "", "", r, "", false, int64(0))
	}
	f.Fuzz(func(t *testing.T, id, change, field, before, after, updatedAt string, truncated bool, ms int64) {
		e := Event{CustomerID: id, Change: change, Before: json.RawMessage(before), After: json.RawMessage(after),
			UpdatedAt: updatedAt, DetectedAt: time.UnixMilli(ms % (1 << 45)), Truncated: truncated}
		if field != "" {
			e.Fields = []string{field, "x"}
		}
		want, wantErr := referenceJSON(e)
		got, err := e.MarshalJSON()
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("MarshalJSON error %v, encoding/json's %v", err, wantErr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("MarshalJSON:\ngot  %s\nwant %s", got, want)
		}
	})
}

// FuzzNeedsHTMLEscape holds needsHTMLEscape to its definition: whether
// json.HTMLEscape changes the bytes.
func FuzzNeedsHTMLEscape(f *testing.F) {
	for _, s := range []string{"", "plain", "a<b", "a>b", "a&b", "x\u2028", "\u2029y", "\xe2", "\xe2\x80", "\xe2\x80\xa7",
		"\xe2\x80\xaa", "\xe2\xe2\x80\xa8", "—", "é\u2028", `{"a":"b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var buf bytes.Buffer
		json.HTMLEscape(&buf, b)
		if want := !bytes.Equal(buf.Bytes(), b); needsHTMLEscape(b) != want {
			t.Fatalf("needsHTMLEscape(%q) = %v, want %v", b, !want, want)
		}
	})
}

func BenchmarkNeedsHTMLEscape(b *testing.B) {
	rec := []byte(userMap)
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if needsHTMLEscape(rec) {
			b.Fatal("userMap needs no escape")
		}
	}
}
