// Package crmspec holds the Gormic CRM's OpenAPI document, as the CRM
// publishes it, and validates HTTP requests and responses against it.
//
// The CRM simulator validates every request it receives with a Validator;
// tests validate the simulator's responses with the same Validator, and
// Transport checks both sides of every exchange a client makes. The document
// is embedded: nothing is read from disk at run time.
package crmspec

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Document is the CRM's merged OpenAPI 3.0 document, byte for byte as
// published (crm-openapi.json).
//
//go:embed crm-openapi.json
var Document []byte

var (
	// ErrNoRoute is returned (wrapped) when a request matches no operation
	// of the document.
	ErrNoRoute = errors.New("crmspec: no such operation")
	// ErrUndeclaredStatus is returned (wrapped) for a response whose status
	// the operation does not declare (401, 404, 429 and 5xx among them).
	ErrUndeclaredStatus = errors.New("crmspec: status not declared by the operation")
)

// Validator checks requests and responses against the document. It is safe
// for concurrent use.
type Validator struct {
	router routers.Router
	strict bool
}

// Options configures a Validator. The zero value validates exactly what the
// document says.
type Options struct {
	// Strict also rejects request bodies whose params hold properties that
	// the document does not name. The published schemas do not forbid them,
	// but the real CRM ignores them silently, which hides a client's typos.
	// Default: false.
	Strict bool
}

// Load parses and validates the embedded document. It returns a fresh copy
// on every call, so a caller may change it.
func Load() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(Document)
	if err != nil {
		return nil, fmt.Errorf("crmspec: load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("crmspec: validate document: %w", err)
	}
	return doc, nil
}

// NewValidator returns a Validator for the embedded document.
func NewValidator(opts Options) (*Validator, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	if opts.Strict {
		no := false
		for _, name := range []string{"CreateUser_Params", "UpdateUser_Params"} {
			s := doc.Components.Schemas[name]
			if s == nil || s.Value == nil {
				return nil, fmt.Errorf("crmspec: schema %s missing", name)
			}
			s.Value.AdditionalProperties = openapi3.AdditionalProperties{Has: &no}
		}
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("crmspec: router: %w", err)
	}
	return &Validator{router: r, strict: opts.Strict}, nil
}

// Exchange is a request that has been matched to an operation, ready for
// its response to be validated.
type Exchange struct {
	in *openapi3filter.RequestValidationInput
}

// OperationID names the matched operation, e.g. "Customers_create".
func (e *Exchange) OperationID() string { return e.in.Route.Operation.OperationID }

// PathParams returns the matched path parameters, still escaped as sent.
func (e *Exchange) PathParams() map[string]string { return e.in.PathParams }

// AuthFunc decides whether the api-key header value is acceptable. It
// returns an error to refuse it.
type AuthFunc func(apiKey string) error

// ValidateRequest matches r to an operation and validates its path, query,
// headers, security and body. The body is read and restored, so r can still
// be served. auth may be nil to accept any non-empty key. The returned error
// wraps ErrNoRoute, an *openapi3filter.SecurityRequirementsError, or an
// *openapi3filter.RequestError.
func (v *Validator) ValidateRequest(ctx context.Context, r *http.Request, auth AuthFunc) (*Exchange, error) {
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", ErrNoRoute, r.Method, r.URL.Path, err)
	}
	in := validationInput(r, route, params, auth)
	if r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, fmt.Errorf("crmspec: read request body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		defer func() { r.Body = io.NopCloser(bytes.NewReader(body)) }()
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return &Exchange{in: in}, err
	}
	return &Exchange{in: in}, nil
}

// validationInput is what openapi3filter validates r against: its route
// and path parameters, every problem at once, and the api-key header,
// which must be there, checked by auth (nil: any key).
func validationInput(r *http.Request, route *routers.Route, params map[string]string, auth AuthFunc) *openapi3filter.RequestValidationInput {
	if auth == nil {
		auth = func(string) error { return nil }
	}
	return &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			MultiError: true,
			AuthenticationFunc: func(_ context.Context, ai *openapi3filter.AuthenticationInput) error {
				key := ai.RequestValidationInput.Request.Header.Get(ai.SecurityScheme.Name)
				if key == "" {
					return errors.New("missing api-key header")
				}
				return auth(key)
			},
		},
	}
}

// ValidateResponse validates a response to the exchange's request: headers
// and body against the schema the operation declares for status. A status
// the operation does not declare gets an error wrapping ErrUndeclaredStatus,
// so that a caller can tell "not in the document" from "wrong".
func (v *Validator) ValidateResponse(ctx context.Context, e *Exchange, status int, header http.Header, body []byte) error {
	if e.in.Route.Operation.Responses.Status(status) == nil && e.in.Route.Operation.Responses.Default() == nil {
		return fmt.Errorf("%w: %s answered %d", ErrUndeclaredStatus, e.OperationID(), status)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: e.in,
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{MultiError: true},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(ctx, in)
}
