// Package crm is the typed client of the Gormic CRM's customer API: the six
// operations of internal/crmspec's OpenAPI document (create, get, update,
// delete, list, export), over one tuned HTTP transport.
//
// # Written by hand
//
// The client is not generated from the document, on purpose. Six
// operations are little code, and a generator's output would get wrong
// exactly what the bridge depends on:
//   - absent, null and value are three different things in an update
//     ("absent" leaves a field alone, null clears cityId or internalNote);
//     generated structs have a pointer or omitempty, which merges two of
//     them. Nullable keeps them apart.
//   - the document declares gender as `type: object` in answers while
//     requests send "F" or "M"; a generated type would reject what the CRM
//     really sends. Customer.Gender keeps the raw JSON.
//   - the poller needs each record's exact bytes (Customer.Raw) and a fast
//     decode of pages of 1,000: an answer is decoded once, and the records'
//     bytes are then found by a walk that decodes nothing (raw.go).
//   - error bodies, Retry-After, timeouts and cancellation need one error
//     type and one classification (Error, Classify), which no generator
//     gives.
//
// Every request the client builds is checked against the document in the
// tests (crmspec.Transport), so hand-written does not mean unchecked.
//
// # Wire
//
// Requests carry api-key, organization-id, Accept: application/json,
// User-Agent, the W3C trace context of the call's context (traceparent,
// tracestate; each request is a client span, "crm <op>", of
// Config.TracerProvider) and, with a body, Content-Type:
// application/json; bodies are
// {"params": ...}. Answers {app, service, warnings, instanceId, requestId,
// data} are unwrapped to their data; non-empty warnings are logged (Warn,
// with op and request_id). Unknown members are ignored. Path ids are one
// escaped segment whatever they hold. updatedSince is FormatSince(since).
// Bodies are capped (Config.MaxResponseBytes) and always drained or closed.
// Redirects are not followed.
//
// # Errors
//
// Every failed call returns an *Error: its fields (Status, Code, RequestID,
// RetryAfter, Err) say what happened, errors.Is matches the sentinels
// (ErrNotFound, ErrDuplicatePhone, ErrRateLimited, ErrTimeout, ...),
// Classify says whether to retry (Transient, Permanent, Auth, Canceled), and
// ResultCode gives the contract's result code. When the caller's context
// ends a call, the *Error wraps ctx.Err() and is Canceled, never ErrTimeout:
// a shutdown is not a CRM problem.
package crm
