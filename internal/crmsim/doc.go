// Package crmsim is an in-memory simulator of the Gormic CRM's customer
// API (the six operations of crmspec.Document: create, get, update, delete,
// list, export), fast and faithful enough for tests, benchmarks and `bridge
// dev`. It speaks real HTTP: serve it on its own listener with Start (which
// it keeps across Outage and Recover) or mount Handler in an httptest
// server.
//
// # What it simulates
//
// Every request is validated against the document with crmspec's strict
// Validator: path, query, headers, the api-key security scheme and
// organization-id, and the body. A request that matches no operation gets
// 404 (code NO_ROUTE), a body over Options.MaxBodyBytes 413, a missing or
// refused api-key 401, a wrong organization-id (with Options.OrgID set) 403,
// any other invalid request 400 with code BAD_REQUEST and a message saying
// why. Every error answer is {"error":{"code","message"},"requestId"}; every
// success is the envelope {app, service, warnings, instanceId, requestId,
// data}, with a requestId unique per request (also in X-Request-Id).
//
// The CRM's behaviour: ids are "cus_" and 20 base32 characters; createdAt
// and updatedAt are RFC 3339 UTC, truncated to Options.TimestampPrecision,
// on the simulator's clock (Options.Now plus the clock skew, also sent as
// the Date header); createdBy/updatedBy/createdVia/updatedVia are an id
// derived from the api-key and "api" for API changes, "usr_console" and
// "ui" for out-of-band ones; phoneCountryCalling and phoneCountry come from
// phoneCallingCode, else from a phone written "+<code>...", else "1"/"US"
// ("ZZ" for a code it does not know); number is generated when not given.
// Nullable fields are cleared by null and returned as explicit nulls.
// Deleting removes a record, or with DeleteArchive sets archivedAt/By/Via.
//
// The export returns records with updatedAt >= updatedSince, ordered by
// (updatedAt, id), Options.PageSize per page, with an opaque base64url
// next token while more remain. PagingKeyset tokens hold the last
// (updatedAt, id), found in O(log n) in a B-tree; PagingOffset tokens hold
// a position, so a record that moves to the end while a client pages makes
// it skip one, as with many real CRMs.
//
// Changes applied, through the API or out of band (CreateCustomer,
// UpdateCustomer, Touch, Archive, Delete, Churn), are logged in order
// (Changes; Seed's customers are the starting state and are not logged);
// requests are counted by operation and status (Stats). Save and Load keep
// the customers, and what generates the next ids and numbers, across a
// restart (`bridge dev` does); the change log starts afresh. Faults
// (SetFaults, ForceError) inject 5xx, 429 with Retry-After, latency,
// connections dropped after the change is applied, forced functional
// errors, 401s and warnings; Outage and Recover take the listener down and
// up on the same port.
//
// # Stricter than the document
//
//   - params holding a property the document does not name is rejected
//     (400); the real CRM ignores it silently, which hides a client's typos.
//   - A phone without any digit is rejected (400 BAD_REQUEST).
//   - An update whose params.id differs from the path's uid is rejected
//     (400 BAD_REQUEST).
//
// # Choices where the document is silent
//
//   - Update and delete of a missing customer answer HTTP 404
//     {"error":{"code":"NotFound"}}: the document declares NotFound for get
//     only (where it is a 400). Options.NotFoundAs400 answers 400 instead.
//   - gender is returned as {"code":"F"}: the document declares it
//     `type: object` in responses (a plain "F" fails validation), while
//     requests send "F" or "M".
//   - DUPLICATE_PHONE compares phones by their digits, behind the calling
//     code unless the phone is written with a leading "+": "+1 555-0100"
//     and "555 0100" (calling code 1) are the same phone.
//   - An update that gives a phone another live customer has answers 400
//     DUPLICATE_PHONE, as a create does, though the document declares only
//     NoChanges for update: the phone stays unique. Archived customers do
//     not hold their phone.
//   - An update that changes nothing (every field given equals the stored
//     one, or no field besides id) answers 400 NoChanges.
//   - MISSING_ID answers a uid that is blank once unescaped (e.g. "%20"),
//     for get, update and delete, and an update whose params.id is blank.
//   - COMPACT_INACTIVE and NO_CREATE_ACTION have no documented trigger:
//     they are injected (Faults.ForceError, Simulator.ForceError), on any
//     operation.
//   - Deleting an archived customer with DeleteArchive answers 200 and
//     changes nothing.
//   - updatedSince is inclusive, takes RFC 3339 with or without fractional
//     seconds, and may be left out (everything); a bad value is a 400, as
//     is an offset token the simulator did not issue.
//   - list returns the first page in (createdAt, id) order with a next
//     token; the document gives list no parameter to pass it back, so the
//     simulator also accepts it as an (undocumented) offset query
//     parameter.
//   - Request ids are unique across simulators; the Date header follows the
//     simulator's (skewed) clock.
//
// Answers the simulator sends outside the document on purpose (statuses an
// operation does not declare, and 400s with a code it does not declare,
// such as BAD_REQUEST or the choices above) are not counted as failures by
// Options.ValidateResponses; everything else it sends must validate.
package crmsim
