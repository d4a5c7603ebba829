// Package schemas holds the JSON Schemas (draft 2020-12) of the messages
// that the bridge reads and writes, for publishers and consumers in any
// language, with examples of valid and invalid instances; README.md says
// what each file is for.
//
// The Go side of the same rules is internal/commands (Decode, Result); the
// tests of this package check that the schemas and the Go code agree on
// every example. event and customer describe what the bridge publishes
// from the CRM: change events (internal/poller) and the customer record
// (the CRM's UserMap), which the tests check on real events and real
// simulator records. subject-tokens.json holds test vectors for the customer
// id token of subjects, whose Go side is internal/streams (EncodeToken,
// DecodeToken, tested against them). Validate and ValidateDeadLetter are
// the check that tests put every result, dead letter and change event
// through.
package schemas

import (
	"bytes"
	"embed"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Files holds the schema files (*.schema.json), the examples
// (examples/<schema>/{valid,invalid}/*.json) and the customer id token
// test vectors (subject-tokens.json), as in this directory.
//
//go:embed *.schema.json examples subject-tokens.json
var Files embed.FS

// BaseURI is the prefix of every schema's $id: a schema's $id is BaseURI
// followed by its file name.
const BaseURI = "https://gormic.example/crm-bridge/schemas/"

// Names of the schemas: the file of a schema is Name + ".schema.json".
const (
	CreateCommand = "command.create"
	UpdateCommand = "command.update"
	DeleteCommand = "command.delete"
	Result        = "result"
	DLQHeaders    = "dlq-headers"
	Event         = "event"
	Customer      = "customer"
)

// Names lists every schema's name.
var Names = []string{CreateCommand, UpdateCommand, DeleteCommand, Result, DLQHeaders, Event, Customer}

// Compile compiles the schema with the given name (one of Names) from
// Files, with format assertions on (email, date, date-time are checked, as
// the schemas intend). It returns an error for an unknown name; the
// schemas themselves always compile (the tests check it). Nothing is
// loaded from the network.
func Compile(name string) (*jsonschema.Schema, error) {
	data, err := Files.ReadFile(name + ".schema.json")
	if err != nil {
		return nil, fmt.Errorf("schemas: no schema %q", name)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("schemas: %s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	id := BaseURI + name + ".schema.json"
	if err := c.AddResource(id, doc); err != nil {
		return nil, fmt.Errorf("schemas: %s: %w", name, err)
	}
	sch, err := c.Compile(id)
	if err != nil {
		return nil, fmt.Errorf("schemas: %s: %w", name, err)
	}
	return sch, nil
}
