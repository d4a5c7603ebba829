package crmspec_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gormic/crm-bridge/internal/crmspec"
)

// TestTransport shows what Transport reports: request problems, response
// problems for declared statuses, nothing for undeclared statuses; and that
// both bodies arrive intact.
func TestTransport(t *testing.T) {
	v, err := crmspec.NewValidator(crmspec.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	okUpdate := `{"app":"a","service":"s","warnings":[],"instanceId":"i","requestId":"r","data":{"succeed":true}}`
	tests := []struct {
		name         string
		method, path string
		header       map[string]string
		body         string
		status       int
		answer       string
		wantRequest  bool // a request problem is reported
		wantResponse bool // a response problem is reported
	}{
		{name: "valid", method: "PATCH", path: "/v1/crm/customers/a%2Fb",
			header: map[string]string{"api-key": "k", "organization-id": "o", "Content-Type": "application/json"},
			body:   `{"params":{"id":"a/b","cityId":null}}`, status: 200, answer: okUpdate},
		{name: "no api-key", method: "DELETE", path: "/v1/crm/customers/x",
			header: map[string]string{"organization-id": "o"}, status: 200,
			answer:      `{"app":"a","service":"s","warnings":[],"instanceId":"i","requestId":"r","data":{"succeed":true}}`,
			wantRequest: true},
		{name: "no organization-id", method: "GET", path: "/v1/crm/customers",
			header: map[string]string{"api-key": "k"}, status: 401, answer: `{}`, wantRequest: true},
		{name: "unknown param (strict)", method: "POST", path: "/v1/crm/customers",
			header: map[string]string{"api-key": "k", "organization-id": "o", "Content-Type": "application/json"},
			body:   `{"params":{"firstName":"A","phone":"1","fistName":"typo"}}`, status: 400,
			answer: `{"error":{"code":"DUPLICATE_PHONE"}}`, wantRequest: true},
		{name: "no such operation", method: "PUT", path: "/v1/crm/customers/x",
			header: map[string]string{"api-key": "k", "organization-id": "o"}, status: 405, answer: ``, wantRequest: true},
		{name: "undeclared status is fine", method: "GET", path: "/v1/crm/customers/x",
			header: map[string]string{"api-key": "k", "organization-id": "o"}, status: 503, answer: `<html>`},
		{name: "declared status, wrong body", method: "PATCH", path: "/v1/crm/customers/x",
			header: map[string]string{"api-key": "k", "organization-id": "o", "Content-Type": "application/json"},
			body:   `{"params":{"id":"x","firstName":"A"}}`, status: 200, answer: `{"data":{}}`, wantResponse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bodies := make(chan string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				bodies <- string(b)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.answer)
			}))
			defer srv.Close()
			var reported []error
			tr := &crmspec.Transport{Validator: v, Report: func(err error) { reported = append(reported, err) }}
			defer tr.CloseIdleConnections()
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			gotBody := <-bodies
			if gotBody != tt.body || string(answer) != tt.answer {
				t.Errorf("got bodies %q and %q, want %q and %q", gotBody, answer, tt.body, tt.answer)
			}
			var gotRequest, gotResponse bool
			for _, p := range tr.Problems() {
				var ee *crmspec.ExchangeError
				if !errors.As(p, &ee) {
					t.Fatalf("got %T, want *ExchangeError", p)
				}
				gotRequest = gotRequest || !ee.Response
				gotResponse = gotResponse || ee.Response
			}
			if gotRequest != tt.wantRequest || gotResponse != tt.wantResponse {
				t.Errorf("got request/response problems %v/%v (%v), want %v/%v",
					gotRequest, gotResponse, tr.Problems(), tt.wantRequest, tt.wantResponse)
			}
			if len(reported) != len(tr.Problems()) {
				t.Errorf("got %d reported, want %d", len(reported), len(tr.Problems()))
			}
		})
	}
}
