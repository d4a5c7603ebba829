package crm_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/syncbuf"
)

func ptr[T any](v T) *T { return &v }

// TestRequestsValidate checks the request of each of the six operations:
// the validating transport checks it against the document (method, path,
// headers, security, query, body; unknown params refused), and the test
// checks the exact body, so that absent, null and value stay apart.
func TestRequestsValidate(t *testing.T) {
	since := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		name      string
		call      func(context.Context, *crm.Client) error
		method    string
		path      string
		query     url.Values
		body      string // exact JSON value expected, "" for no body
		data      any
		wantAfter func(t *testing.T, got any)
	}{
		{
			name: "create all fields",
			call: func(ctx context.Context, c *crm.Client) error {
				id, err := c.Create(ctx, crm.CreateParams{
					FirstName: "Ada", Phone: "+1 555-0100", LastName: crm.Some("Lovelace"),
					Email: ptr("ada@example.com"), PhoneCallingCode: ptr("1"), CityID: ptr("c-1"),
					BirthDate: ptr("1815-12-10"), Gender: ptr("F"), Passcode: ptr("1234"),
					Number: ptr("N-1"), Unsubscribed: ptr(false), InternalNote: crm.Some("vip"),
				})
				if id != "cus_new" {
					t.Errorf("got id %q, want cus_new", id)
				}
				return err
			},
			method: "POST", path: "/v1/crm/customers",
			body: `{"params":{"firstName":"Ada","phone":"+1 555-0100","lastName":"Lovelace",
				"email":"ada@example.com","phoneCallingCode":"1","cityId":"c-1","birthDate":"1815-12-10",
				"gender":"F","passcode":"1234","number":"N-1","unsubscribed":false,"internalNote":"vip"}}`,
			data: map[string]any{"succeed": true, "id": "cus_new"},
		},
		{
			name: "create null lastName, rest absent",
			call: func(ctx context.Context, c *crm.Client) error {
				_, err := c.Create(ctx, crm.CreateParams{FirstName: "Ada", Phone: "5550100", LastName: crm.Null[string]()})
				return err
			},
			method: "POST", path: "/v1/crm/customers",
			body: `{"params":{"firstName":"Ada","phone":"5550100","lastName":null}}`,
			data: map[string]any{"succeed": true, "id": "cus_new"},
		},
		{
			name: "update absent null value",
			call: func(ctx context.Context, c *crm.Client) error {
				return c.Update(ctx, "cus_1", crm.UpdateParams{
					FirstName: ptr("Ada"), CityID: crm.Null[string](), InternalNote: crm.Null[string](),
				})
			},
			method: "PATCH", path: "/v1/crm/customers/cus_1",
			body: `{"params":{"id":"cus_1","firstName":"Ada","cityId":null,"internalNote":null}}`,
			data: map[string]any{"succeed": true},
		},
		{
			name: "update values of nullable fields",
			call: func(ctx context.Context, c *crm.Client) error {
				return c.Update(ctx, "cus_1", crm.UpdateParams{
					CityID: crm.Some("c-2"), InternalNote: crm.Some(""), Unsubscribed: ptr(true), Gender: ptr("M"),
				})
			},
			method: "PATCH", path: "/v1/crm/customers/cus_1",
			body: `{"params":{"id":"cus_1","cityId":"c-2","internalNote":"","unsubscribed":true,"gender":"M"}}`,
			data: map[string]any{"succeed": true},
		},
		{
			name: "update nothing set",
			call: func(ctx context.Context, c *crm.Client) error {
				return c.Update(ctx, "cus_1", crm.UpdateParams{})
			},
			method: "PATCH", path: "/v1/crm/customers/cus_1",
			body: `{"params":{"id":"cus_1"}}`,
			data: map[string]any{"succeed": true},
		},
		{
			name: "get",
			call: func(ctx context.Context, c *crm.Client) error {
				got, err := c.Get(ctx, "cus_1")
				if got.ID != "cus_1" {
					t.Errorf("got id %q, want cus_1", got.ID)
				}
				return err
			},
			method: "GET", path: "/v1/crm/customers/cus_1",
			data: map[string]any{"user": customer("cus_1", "2026-01-01T00:00:00.000Z")},
		},
		{
			name:   "delete",
			call:   func(ctx context.Context, c *crm.Client) error { return c.Delete(ctx, "cus_1") },
			method: "DELETE", path: "/v1/crm/customers/cus_1",
			data: map[string]any{"succeed": true},
		},
		{
			name: "list",
			call: func(ctx context.Context, c *crm.Client) error {
				page, err := c.List(ctx)
				if len(page.Users) != 1 || page.Next != "n1" {
					t.Errorf("got %d users, next %q; want 1, n1", len(page.Users), page.Next)
				}
				return err
			},
			method: "GET", path: "/v1/crm/customers",
			data: map[string]any{"users": []any{customer("cus_1", "2026-01-01T00:00:00.000Z")}, "next": "n1", "query": map[string]any{}},
		},
		{
			name: "export since with offset",
			call: func(ctx context.Context, c *crm.Client) error {
				_, err := c.ExportPage(ctx, since, "o/1 &x")
				return err
			},
			method: "GET", path: "/v1/crm/customers/export",
			query: url.Values{"updatedSince": {"2026-11-27T09:00:00.123Z"}, "offset": {"o/1 &x"}},
			data:  map[string]any{"items": []any{}},
		},
		{
			name: "export complete",
			call: func(ctx context.Context, c *crm.Client) error {
				_, err := c.ExportPage(ctx, time.Time{}, "")
				return err
			},
			method: "GET", path: "/v1/crm/customers/export",
			query: url.Values{},
			data:  map[string]any{"items": []any{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec.record(r)
				writeJSON(w, 200, envelope(tt.data))
			}), setup{})
			if err := tt.call(ctx(t), c); err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			reqs := rec.all()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != tt.method || r.rawPath != tt.path {
				t.Errorf("got %s %s, want %s %s", r.method, r.rawPath, tt.method, tt.path)
			}
			if tt.query != nil {
				if got, _ := url.ParseQuery(r.query); !reflect.DeepEqual(got, tt.query) {
					t.Errorf("got query %v, want %v", got, tt.query)
				}
			}
			for name, want := range map[string]string{
				"Api-Key": testKey, "Organization-Id": testOrg, "Accept": "application/json",
				"User-Agent": crm.DefaultUserAgent,
			} {
				if got := r.header.Get(name); got != want {
					t.Errorf("got header %s %q, want %q", name, got, want)
				}
			}
			if tt.body == "" {
				if len(r.body) != 0 || r.header.Get("Content-Type") != "" {
					t.Errorf("got body %q with Content-Type %q, want none", r.body, r.header.Get("Content-Type"))
				}
				return
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("got Content-Type %q, want application/json", got)
			}
			var got, want any
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatalf("body %q: %v", r.body, err)
			}
			if err := json.Unmarshal([]byte(tt.body), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got body %s, want %s", r.body, strings.Join(strings.Fields(tt.body), " "))
			}
		})
	}
}

// TestPathEscaping shows that an id is always exactly one path segment:
// nothing in it can change the operation's path.
func TestPathEscaping(t *testing.T) {
	ids := []string{"a/b", "../x", "..", ".", "a?b=c", "a#b", "a b", "%2F", "100%", "ü-ß", "a;b,c", "./.."}
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			var rec recorder
			c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec.record(r)
				writeJSON(w, 200, envelope(map[string]any{"user": customer(id, "2026-01-01T00:00:00.000Z"), "succeed": true}))
			}), setup{})
			if _, err := c.Get(ctx(t), id); err != nil {
				t.Fatalf("get: %v", err)
			}
			if err := c.Update(ctx(t), id, crm.UpdateParams{FirstName: ptr("Ada")}); err != nil {
				t.Fatalf("update: %v", err)
			}
			if err := c.Delete(ctx(t), id); err != nil {
				t.Fatalf("delete: %v", err)
			}
			for _, r := range rec.all() {
				seg, ok := strings.CutPrefix(r.rawPath, "/v1/crm/customers/")
				if !ok || strings.Contains(seg, "/") || seg == "." || seg == ".." {
					t.Errorf("%s: got path %q, want /v1/crm/customers/<one segment>", r.method, r.rawPath)
					continue
				}
				if got, err := url.PathUnescape(seg); err != nil || got != id {
					t.Errorf("%s: got segment %q = %q (%v), want %q", r.method, seg, got, err, id)
				}
				if r.query != "" {
					t.Errorf("%s: got query %q, want none", r.method, r.query)
				}
			}
		})
	}
}

// TestDecodeQuirks shows how answers are read: gender as sent (string,
// object, null, absent), nullable fields, unknown members ignored, and Raw
// the exact bytes of each record.
func TestDecodeQuirks(t *testing.T) {
	records := []string{
		`{"id":"s","firstName":"A","phone":"1","phoneCountry":"US","phoneCountryCalling":"1","number":"1","gender":"F","lastName":null,"cityId":"c-1","unsubscribed":null,"extra":{"x":[1,2]}}`,
		`{ "id" : "o", "firstName":"B","phone":"2","phoneCountry":"US","phoneCountryCalling":"1","number":"2","gender":{"code":"M"},"internalNote":"n","archivedAt":"2026-01-02T00:00:00Z" }`,
		`{"id":"n","firstName":"C","phone":"3","phoneCountry":"US","phoneCountryCalling":"1","number":"3","gender":null,"lastName":"L","unsubscribed":true}`,
		`{"id":"a","firstName":"D","phone":"4","phoneCountry":"US","phoneCountryCalling":"1","number":"4"}`,
	}
	body := `{"app":"crm","service":"s","warnings":[],"instanceId":"i","requestId":"r","unknown":1,"data":{"users":[` +
		strings.Join(records, " ,\n ") + `],"query":{}}}`
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/export") {
			writeJSON(w, 200, strings.Replace(body, `"users"`, `"items"`, 1))
			return
		}
		if strings.HasSuffix(r.URL.Path, "/s") {
			writeJSON(w, 200, `{"app":"crm","service":"s","warnings":[],"instanceId":"i","requestId":"r","data":{"user":`+records[0]+`}}`)
			return
		}
		writeJSON(w, 200, body)
	}), setup{badResponses: true}) // gender "F" breaks the document's `type: object`

	list, err := c.List(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	export, err := c.ExportPage(ctx(t), time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	get, err := c.Get(ctx(t), "s")
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]crm.Customer{"list": list.Users, "export": export.Items, "get": {get}} {
		for i, cu := range got {
			if string(cu.Raw) != records[i] {
				t.Errorf("%s %d: got Raw %s, want %s", name, i, cu.Raw, records[i])
			}
		}
	}
	u := list.Users
	checks := []struct {
		name      string
		got, want any
	}{
		{"string gender", string(u[0].Gender), `"F"`},
		{"object gender", string(u[1].Gender), `{"code":"M"}`},
		{"null gender", string(u[2].Gender), `null`},
		{"absent gender", u[3].Gender == nil, true},
		{"null lastName", u[0].LastName == nil, true},
		{"lastName", *u[2].LastName, "L"},
		{"cityId", *u[0].CityID, "c-1"},
		{"null unsubscribed", u[0].Unsubscribed == nil, true},
		{"unsubscribed", *u[2].Unsubscribed, true},
		{"internalNote", *u[1].InternalNote, "n"},
		{"archivedAt", *u[1].ArchivedAt, "2026-01-02T00:00:00Z"},
		{"absent archivedAt", u[0].ArchivedAt == nil, true},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := crm.Config{BaseURL: "https://crm.example.com/api/", APIKey: "secret-key", OrgID: "org"}
	tests := []struct {
		name string
		cfg  func(c *crm.Config)
		want []string // substrings, one per problem; none: valid
	}{
		{name: "valid", cfg: func(*crm.Config) {}},
		{name: "all missing", cfg: func(c *crm.Config) { *c = crm.Config{} },
			want: []string{"Config.BaseURL: required", "Config.APIKey: required", "Config.OrgID: required"}},
		{name: "ftp", cfg: func(c *crm.Config) { c.BaseURL = "ftp://x" }, want: []string{"Config.BaseURL"}},
		{name: "no host", cfg: func(c *crm.Config) { c.BaseURL = "http:///x" }, want: []string{"no host"}},
		{name: "query", cfg: func(c *crm.Config) { c.BaseURL = "http://x/?a=1" }, want: []string{"query"}},
		{name: "user info", cfg: func(c *crm.Config) { c.BaseURL = "http://u:p@x/" }, want: []string{"user info"}},
		{name: "negatives", cfg: func(c *crm.Config) { c.Timeout, c.MaxConns, c.MaxResponseBytes = -1, -1, -1 },
			want: []string{"Config.Timeout", "Config.MaxConns", "Config.MaxResponseBytes"}},
		{name: "header values", cfg: func(c *crm.Config) { c.APIKey, c.OrgID, c.UserAgent = "secret\nkey", "o\r", "a\x00" },
			want: []string{"Config.APIKey", "Config.OrgID", "Config.UserAgent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.cfg(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil, want %q", tt.want)
			}
			msg := err.Error()
			if n := len(strings.Split(msg, "\n")); n != len(tt.want) {
				t.Errorf("got %d problems (%q), want %d", n, msg, len(tt.want))
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("got %q, want it to mention %q", msg, w)
				}
			}
			if strings.Contains(msg, "secret") {
				t.Errorf("got %q, which shows the api key", msg)
			}
			if _, err := crm.New(cfg); err == nil {
				t.Error("New accepted an invalid Config")
			}
		})
	}
}

// TestWarningsLogged: an answer's non-empty warnings are logged at Warn
// with op and request_id; empty warnings are not.
func TestWarningsLogged(t *testing.T) {
	var logs syncbuf.Buffer
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/crm/customers/warned":
			writeJSON(w, 200, `{"app":"crm","service":"s","instanceId":"i","requestId":"req-w",
				"warnings":[{"code":"W1","message":"deprecated"}],"data":{"user":{"id":"warned","firstName":"A",
				"phone":"1","phoneCountry":"US","phoneCountryCalling":"1","number":"1"}}}`)
		case "/v1/crm/customers/refused":
			writeJSON(w, 400, `{"requestId":"req-e","warnings":[{"code":"W2"}],"error":{"code":"NotFound"}}`)
		default:
			writeJSON(w, 200, envelope(map[string]any{"user": customer("quiet", "2026-01-01T00:00:00.000Z")}))
		}
	}), setup{cfg: func(c *crm.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}})
	if _, err := c.Get(ctx(t), "warned"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx(t), "quiet"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx(t), "refused"); !errors.Is(err, crm.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	var got []map[string]any
	for line := range strings.Lines(logs.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		got = append(got, m)
	}
	want := []map[string]string{
		{"level": "WARN", "op": "get", "customer_id": "warned", "request_id": "req-w", "warnings": `[{"code":"W1","message":"deprecated"}]`},
		{"level": "WARN", "op": "get", "customer_id": "refused", "request_id": "req-e", "warnings": `[{"code":"W2"}]`},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d log lines %v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		for k, v := range w {
			if got[i][k] != v {
				t.Errorf("line %d: got %s %v, want %q", i, k, got[i][k], v)
			}
		}
	}
}

// TestConnectionReuse: answers of every kind, errors included, are read to
// their end, so that one connection serves every request in turn.
func TestConnectionReuse(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	answers := []struct {
		status int
		body   string
	}{
		{200, `{"app":"a","service":"s","warnings":[],"instanceId":"i","requestId":"r","data":{"succeed":true}}`},
		{400, `{"error":{"code":"NoChanges"}}`},
		{404, strings.Repeat("not found ", 1000)},
		{503, `<html>` + strings.Repeat("x", 3000) + `</html>`},
		{200, `not json at all`},
	}
	n := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		a := answers[n%len(answers)]
		n++
		mu.Unlock()
		writeJSON(w, a.status, a.body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	// The client's own transport: the validating one would read every body
	// itself and hide a client that does not.
	c := newClientFor(t, srv.URL, setup{cfg: func(c *crm.Config) { c.Transport = crm.NewTransport(*c) }})
	for range 3 * len(answers) {
		_ = c.Update(ctx(t), "cus_1", crm.UpdateParams{FirstName: ptr("Ada")})
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 1 {
		t.Errorf("got %d connections for %d requests, want 1", conns, n)
	}
}

// TestConfigValidateHidesUserInfo: a base URL with a password is refused
// without the password, whatever else is wrong with it.
func TestConfigValidateHidesUserInfo(t *testing.T) {
	for _, base := range []string{"ftp://u:s3cret@x/", "http://u:s3cret@/x", "http://u:s3cret@x/?a=1", "http://s3cret@x/"} {
		cfg := crm.Config{BaseURL: base, APIKey: "k", OrgID: "o"}
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "user info") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("BaseURL %q: got %v, want an error about user info without the secret", base, err)
		}
	}
}
