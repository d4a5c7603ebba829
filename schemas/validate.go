package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compiled caches Compile's schemas for Validate.
var compiled = struct {
	sync.Mutex
	m map[string]*jsonschema.Schema
}{m: map[string]*jsonschema.Schema{}}

// Validate checks instance, a JSON document, against the schema with the
// given name (one of Names), as Compile compiles it. It is the one check
// that tests use for every result, dead letter and change event they read,
// and is safe for concurrent use (each schema is compiled once). It
// returns an error naming the schema and every violation on one line, or
// saying that the name is unknown or instance is not JSON.
func Validate(name string, instance []byte) error {
	sch, err := cached(name)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(instance))
	if err != nil {
		return fmt.Errorf("schemas: %s: instance is not JSON: %w", name, err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("schemas: %s: %s", name, strings.Join(strings.Fields(err.Error()), " "))
	}
	return nil
}

// ValidateDeadLetter checks the headers of a dead letter (a nats.Header)
// against dlq-headers.schema.json, each header as its first value, as
// Validate does.
func ValidateDeadLetter(header map[string][]string) error {
	first := make(map[string]string, len(header))
	for k, v := range header {
		if len(v) > 0 {
			first[k] = v[0]
		}
	}
	doc, err := json.Marshal(first)
	if err != nil {
		return fmt.Errorf("schemas: %s: %w", DLQHeaders, err)
	}
	return Validate(DLQHeaders, doc)
}

func cached(name string) (*jsonschema.Schema, error) {
	compiled.Lock()
	defer compiled.Unlock()
	if sch, ok := compiled.m[name]; ok {
		return sch, nil
	}
	sch, err := Compile(name)
	if err != nil {
		return nil, err
	}
	compiled.m[name] = sch
	return sch, nil
}
