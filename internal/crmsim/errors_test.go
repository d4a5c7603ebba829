package crmsim

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gormic/crm-bridge/internal/crm"
)

// TestFunctionalErrors checks each functional error: status, code, what
// the document says of the answer, and that nothing was applied.
func TestFunctionalErrors(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		setup      func(h *harness, id string)
		method     string
		path       string // %s: the existing customer's id
		body       string // %s: the existing customer's id
		wantStatus int
		wantCode   string
		wantDoc    docVerdict
	}{
		{name: "create duplicate phone", method: "POST", path: "/v1/crm/customers",
			body:       `{"params":{"firstName":"B","phone":"+1 (555) 010-0001"}}`,
			wantStatus: 400, wantCode: crm.CodeDuplicatePhone, wantDoc: docValid},
		{name: "create duplicate phone without the calling code", method: "POST", path: "/v1/crm/customers",
			body:       `{"params":{"firstName":"B","phone":"555.010.0001"}}`,
			wantStatus: 400, wantCode: crm.CodeDuplicatePhone, wantDoc: docValid},
		{name: "update to a duplicate phone", method: "PATCH", path: "/v1/crm/customers/%s",
			setup: func(h *harness, _ string) {
				h.create(map[string]any{"firstName": "C", "phone": "+15550100002"})
			},
			body:       `{"params":{"id":"%s","phone":"+15550100002"}}`,
			wantStatus: 400, wantCode: crm.CodeDuplicatePhone, wantDoc: docOffEnum},
		{name: "update with no changes", method: "PATCH", path: "/v1/crm/customers/%s",
			body:       `{"params":{"id":"%s","firstName":"A","phone":"+15550100001"}}`,
			wantStatus: 400, wantCode: crm.CodeNoChanges, wantDoc: docValid},
		{name: "update with no field", method: "PATCH", path: "/v1/crm/customers/%s",
			body:       `{"params":{"id":"%s"}}`,
			wantStatus: 400, wantCode: crm.CodeNoChanges, wantDoc: docValid},
		{name: "get missing", method: "GET", path: "/v1/crm/customers/cus_missing",
			wantStatus: 400, wantCode: crm.CodeNotFound, wantDoc: docValid},
		{name: "update missing", method: "PATCH", path: "/v1/crm/customers/cus_missing",
			body:       `{"params":{"id":"cus_missing","firstName":"X"}}`,
			wantStatus: 404, wantCode: crm.CodeNotFound, wantDoc: docUndeclared},
		{name: "delete missing", method: "DELETE", path: "/v1/crm/customers/cus_missing",
			wantStatus: 404, wantCode: crm.CodeNotFound, wantDoc: docUndeclared},
		{name: "update missing as 400", opts: Options{NotFoundAs400: true}, method: "PATCH", path: "/v1/crm/customers/cus_missing",
			body:       `{"params":{"id":"cus_missing","firstName":"X"}}`,
			wantStatus: 400, wantCode: crm.CodeNotFound, wantDoc: docOffEnum},
		{name: "delete missing as 400", opts: Options{NotFoundAs400: true}, method: "DELETE", path: "/v1/crm/customers/cus_missing",
			wantStatus: 400, wantCode: crm.CodeNotFound, wantDoc: docUndeclared},
		{name: "get blank id", method: "GET", path: "/v1/crm/customers/%%20",
			wantStatus: 400, wantCode: crm.CodeMissingID, wantDoc: docValid},
		{name: "update blank params id", method: "PATCH", path: "/v1/crm/customers/%s",
			body:       `{"params":{"id":" ","firstName":"X"}}`,
			wantStatus: 400, wantCode: crm.CodeMissingID, wantDoc: docOffEnum},
		{name: "delete blank id", method: "DELETE", path: "/v1/crm/customers/%%20",
			wantStatus: 400, wantCode: crm.CodeMissingID, wantDoc: docUndeclared},
		{name: "get compact inactive (injected)", method: "GET", path: "/v1/crm/customers/%s",
			setup:      func(h *harness, _ string) { h.sim.ForceError(OpGet, crm.CodeCompactInactive, 1) },
			wantStatus: 400, wantCode: crm.CodeCompactInactive, wantDoc: docValid},
		{name: "create no create action (injected)", method: "POST", path: "/v1/crm/customers",
			setup:      func(h *harness, _ string) { h.sim.ForceError(OpCreate, crm.CodeNoCreateAction, 1) },
			body:       `{"params":{"firstName":"B","phone":"+15550100009"}}`,
			wantStatus: 400, wantCode: crm.CodeNoCreateAction, wantDoc: docOffEnum},
		{name: "update compact inactive (injected)", method: "PATCH", path: "/v1/crm/customers/%s",
			setup:      func(h *harness, _ string) { h.sim.ForceError(OpUpdate, crm.CodeCompactInactive, 1) },
			body:       `{"params":{"id":"%s","firstName":"Z"}}`,
			wantStatus: 400, wantCode: crm.CodeCompactInactive, wantDoc: docOffEnum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, tt.opts)
			id := h.create(map[string]any{"firstName": "A", "phone": "+15550100001"})
			if tt.setup != nil {
				tt.setup(h, id)
			}
			before := h.sim.Changes()
			path := strings.ReplaceAll(tt.path, "%s", id)
			path = strings.ReplaceAll(path, "%%", "%")
			var body any
			if tt.body != "" {
				body = strings.ReplaceAll(tt.body, "%s", id)
			}
			a := h.call(tt.method, path, body, nil)
			mustValidRequest(t, a)
			if a.status != tt.wantStatus || a.code() != tt.wantCode {
				t.Errorf("got %d %s, want %d %s", a.status, a.body, tt.wantStatus, tt.wantCode)
			}
			checkDoc(t, a, tt.wantDoc)
			if after := h.sim.Changes(); len(after) != len(before) {
				t.Errorf("changes: got %d after, %d before; want nothing applied", len(after), len(before))
			}
		})
	}
}

// TestForcedErrorCount checks that a forced error lasts Count requests.
func TestForcedErrorCount(t *testing.T) {
	h := start(t, Options{})
	h.sim.ForceError(OpList, crm.CodeCompactInactive, 2)
	var got []int
	for range 3 {
		got = append(got, h.call("GET", "/v1/crm/customers", nil, nil).status)
	}
	if got[0] != 400 || got[1] != 400 || got[2] != 200 {
		t.Errorf("statuses: got %v, want [400 400 200]", got)
	}
	if n := h.sim.Faults().ForceError[OpList].Count; n != 0 {
		t.Errorf("count left: got %d, want 0", n)
	}
}

// TestBadRequests checks that what the document refuses is refused.
func TestBadRequests(t *testing.T) {
	const valid = `{"params":{"firstName":"A","phone":"+15550100001"}}`
	tests := []struct {
		name       string
		opts       Options
		method     string
		path       string
		body       string
		hdr        headers
		wantStatus int
		wantCode   string
		wantIn     string // in the message
	}{
		{name: "missing api-key", method: "GET", path: "/v1/crm/customers", hdr: headers{"api-key": ""},
			wantStatus: 401, wantCode: "UNAUTHORIZED", wantIn: "api-key"},
		{name: "wrong api-key", opts: Options{APIKey: "secret"}, method: "GET", path: "/v1/crm/customers",
			wantStatus: 401, wantCode: "UNAUTHORIZED"},
		{name: "wrong organization-id", opts: Options{OrgID: "org-2"}, method: "GET", path: "/v1/crm/customers",
			wantStatus: 403, wantCode: "FORBIDDEN"},
		{name: "missing organization-id", method: "GET", path: "/v1/crm/customers", hdr: headers{"organization-id": ""},
			wantStatus: 400, wantCode: "BAD_REQUEST", wantIn: "organization-id"},
		{name: "unknown params field", method: "POST", path: "/v1/crm/customers",
			body:       `{"params":{"firstName":"A","phone":"+15550100001","nickname":"x"}}`,
			wantStatus: 400, wantCode: "BAD_REQUEST", wantIn: "nickname"},
		{name: "wrong type", method: "POST", path: "/v1/crm/customers",
			body: `{"params":{"firstName":"A","phone":5550100001}}`, wantStatus: 400, wantCode: "BAD_REQUEST", wantIn: "phone"},
		{name: "bad gender", method: "POST", path: "/v1/crm/customers",
			body: `{"params":{"firstName":"A","phone":"+15550100001","gender":"X"}}`, wantStatus: 400, wantCode: "BAD_REQUEST", wantIn: "gender"},
		{name: "null where not nullable", method: "POST", path: "/v1/crm/customers",
			body: `{"params":{"firstName":"A","phone":"+15550100001","cityId":null}}`, wantStatus: 400, wantCode: "BAD_REQUEST", wantIn: "cityId"},
		{name: "missing required", method: "POST", path: "/v1/crm/customers",
			body: `{"params":{"firstName":"A"}}`, wantStatus: 400, wantCode: "BAD_REQUEST", wantIn: "phone"},
		{name: "no params", method: "POST", path: "/v1/crm/customers", body: `{}`, wantStatus: 400, wantCode: "BAD_REQUEST", wantIn: "params"},
		{name: "not JSON", method: "POST", path: "/v1/crm/customers", body: `{"params":`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "phone without digits", method: "POST", path: "/v1/crm/customers",
			body: `{"params":{"firstName":"A","phone":"none"}}`, wantStatus: 400, wantCode: "BAD_REQUEST", wantIn: "digit"},
		{name: "update id differs from path", method: "PATCH", path: "/v1/crm/customers/cus_a",
			body: `{"params":{"id":"cus_b","firstName":"A"}}`, wantStatus: 400, wantCode: "BAD_REQUEST", wantIn: "differs"},
		{name: "update without params id", method: "PATCH", path: "/v1/crm/customers/cus_a",
			body: `{"params":{"firstName":"A"}}`, wantStatus: 400, wantCode: "BAD_REQUEST", wantIn: "id"},
		{name: "bad updatedSince", method: "GET", path: "/v1/crm/customers/export?updatedSince=yesterday",
			wantStatus: 400, wantCode: "BAD_REQUEST", wantIn: "updatedSince"},
		{name: "bad offset token", method: "GET", path: "/v1/crm/customers/export?offset=12",
			wantStatus: 400, wantCode: "BAD_REQUEST", wantIn: "offset"},
		{name: "list token in export", method: "GET", path: "/v1/crm/customers/export?offset=" + pageToken{kind: 'c', at: 1, id: "cus_a"}.String(),
			wantStatus: 400, wantCode: "BAD_REQUEST", wantIn: "offset"},
		{name: "unknown route", method: "GET", path: "/v2/customers", wantStatus: 404, wantCode: "NO_ROUTE"},
		{name: "unknown method", method: "PUT", path: "/v1/crm/customers/cus_a", body: valid, wantStatus: 404, wantCode: "NO_ROUTE"},
		{name: "body too large", opts: Options{MaxBodyBytes: 64}, method: "POST", path: "/v1/crm/customers",
			body: `{"params":{"firstName":"` + strings.Repeat("A", 100) + `","phone":"+15550100001"}}`, wantStatus: 413, wantCode: "PAYLOAD_TOO_LARGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, tt.opts)
			var body any
			if tt.body != "" {
				body = tt.body
			}
			a := h.call(tt.method, tt.path, body, tt.hdr)
			if a.status != tt.wantStatus || a.code() != tt.wantCode || !strings.Contains(string(a.body), tt.wantIn) {
				t.Errorf("got %d %s, want %d %s mentioning %q", a.status, a.body, tt.wantStatus, tt.wantCode, tt.wantIn)
			}
			if h.sim.Len() != 0 || len(h.sim.Changes()) != 0 {
				t.Errorf("got %d customers and %d changes, want nothing applied", h.sim.Len(), len(h.sim.Changes()))
			}
			op := operationFor(tt.method, tt.path)
			if tt.wantStatus == http.StatusRequestEntityTooLarge {
				op = OpUnknown // refused before the request is matched
			}
			if n := h.sim.Stats()[StatKey{op, tt.wantStatus}]; n != 1 {
				t.Errorf("stats: got %d for %s %d, want 1 (%v)", n, op, tt.wantStatus, h.sim.Stats())
			}
		})
	}
}

// operationFor names the operation a test request is for.
func operationFor(method, path string) Operation {
	switch {
	case strings.HasPrefix(path, "/v1/crm/customers/export"):
		return OpExport
	case path == "/v1/crm/customers" && method == http.MethodPost:
		return OpCreate
	case path == "/v1/crm/customers":
		return OpList
	case !strings.HasPrefix(path, "/v1/crm/customers/"):
		return OpUnknown
	}
	switch method {
	case http.MethodGet:
		return OpGet
	case http.MethodPatch:
		return OpUpdate
	case http.MethodDelete:
		return OpDelete
	}
	return OpUnknown
}
