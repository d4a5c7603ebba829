package poller

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// ignored reports whether a top-level field is left out of Diff and Digest:
// updatedAt, updatedBy and updatedVia change on every write, also one that
// changes nothing else (a touch).
func ignored(name []byte) bool {
	switch string(name) {
	case "updatedAt", "updatedBy", "updatedVia":
		return true
	}
	return false
}

// kept reports whether member s of the record in c takes part in Diff and
// Digest: not ignored and not null (null is the same as absent).
func (c *canon) kept(s span) bool {
	return c.buf[s.v] != 'n' && !ignored(c.name(s))
}

// Diff returns the sorted names of the top-level fields whose values differ
// between two customer records (JSON objects as the CRM's export returns
// them), leaving out updatedAt, updatedBy and updatedVia. A field absent on
// one side and null on the other does not differ. Values are compared as
// JSON values, as encoding/json decodes them: object key order, duplicate
// keys (the last counts) and whitespace do not matter, strings compare
// after unescaping, numbers by their exact decimal value (1, 1.0 and 10e-1
// are equal). The result is nil when nothing differs.
//
// Diff returns an error wrapping ErrInvalidRecord when either record is not
// a JSON object, or holds a number whose exponent exceeds 10^15.
func Diff(before, after json.RawMessage) ([]string, error) {
	b, a := getCanon(), getCanon()
	defer putCanon(b)
	defer putCanon(a)
	if err := b.record(before); err != nil {
		return nil, fmt.Errorf("poller: diff: before: %w", err)
	}
	if err := a.record(after); err != nil {
		return nil, fmt.Errorf("poller: diff: after: %w", err)
	}
	return differing(b, a), nil
}

// differing returns the sorted names of the kept members that differ
// between the records in b and a.
func differing(b, a *canon) []string {
	var fields []string
	bs, as := b.spans, a.spans
	for len(bs) > 0 || len(as) > 0 {
		switch cmp := firstNames(b, a, bs, as); {
		case cmp < 0: // only before has it
			if b.kept(bs[0]) {
				fields = append(fields, string(b.name(bs[0])))
			}
			bs = bs[1:]
		case cmp > 0: // only after has it
			if a.kept(as[0]) {
				fields = append(fields, string(a.name(as[0])))
			}
			as = as[1:]
		default:
			sb, sa := bs[0], as[0]
			if !ignored(b.name(sb)) && !bytes.Equal(b.buf[sb.v:sb.end], a.buf[sa.v:sa.end]) {
				fields = append(fields, string(b.name(sb)))
			}
			bs, as = bs[1:], as[1:]
		}
	}
	return fields
}

// firstNames compares the names of the first members of bs (of b) and as
// (of a), not both empty; an empty list's name comes last.
func firstNames(b, a *canon, bs, as []span) int {
	switch {
	case len(bs) == 0:
		return 1
	case len(as) == 0:
		return -1
	}
	return bytes.Compare(b.name(bs[0]), a.name(as[0]))
}

// Digest returns a 64-bit digest of what Diff compares: records between
// which Diff finds no difference have the same digest, and records between
// which it finds one have different digests but for hash collisions
// (about 2^-64 for a pair). Digests are stable across processes and
// versions: XXH64 (seed 0, github.com/cespare/xxhash/v2) over the canonical
// form (canon.go) of the fields Diff compares, in name order (TestGolden
// pins them). Digest does not allocate once its pooled buffers
// have grown to the record's size.
//
// Digest returns an error wrapping ErrInvalidRecord when record is not a
// JSON object, or holds a number whose exponent exceeds 10^15.
func Digest(record json.RawMessage) (uint64, error) {
	c := getCanon()
	defer putCanon(c)
	if err := c.record(record); err != nil {
		return 0, fmt.Errorf("poller: digest: %w", err)
	}
	// The kept members, in order, behind the others; then their hash.
	start := len(c.buf)
	for _, s := range c.spans {
		if c.kept(s) {
			c.buf = append(c.buf, c.buf[s.k:s.end]...)
		}
	}
	return xxhash.Sum64(c.buf[start:]), nil
}

// wholeDigest returns XXH64 of record's whole canonical form, updatedAt
// and the rest included: records with the same whole digest are, but for
// hash collisions, the same JSON value. The poller keeps it per customer
// to tell a record exactly as saved from one to look at.
func wholeDigest(record json.RawMessage) (uint64, error) {
	c := getCanon()
	defer putCanon(c)
	if err := c.whole(record); err != nil {
		return 0, fmt.Errorf("poller: digest: %w", err)
	}
	if len(c.buf) == 0 || c.buf[0] != 'o' {
		return 0, fmt.Errorf("poller: digest: %w: not a JSON object", ErrInvalidRecord)
	}
	return xxhash.Sum64(c.buf), nil
}
