// The canonical form of a JSON value, which Diff compares, Digest hashes and
// Event.ID hashes (so it must never change: IDs deduplicate across
// versions). It is a prefix-free binary encoding in which two values have
// the same bytes exactly when encoding/json would decode them to equal
// values, numbers compared by their exact decimal value:
//
//	null                  'n'
//	true, false           't', 'f'
//	string                's', uint32 BE length, the decoded UTF-8 bytes
//	                      (invalid UTF-8 and lone surrogates as U+FFFD)
//	number 0 (and -0)     'd', '0'
//	other numbers         'd', '+' or '-', uint32 BE length, the significant
//	                      digits D (no leading or trailing zeros), int64 BE e,
//	                      the value being D × 10^e
//	array                 'a', the elements, ']'
//	object                'o', the members sorted by the bytes of their
//	                      decoded names (of members with the same name, the
//	                      last), each name then value, '}'
//
// This file holds the parsing of objects and arrays and the order of
// members; canonstr.go holds strings, canonnum.go numbers.

package poller

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrInvalidRecord is returned (wrapped) by Diff, Digest and NewEvent for a
// record that is not valid JSON or not a JSON object.
var ErrInvalidRecord = errors.New("poller: invalid customer record")

// maxDepth is how deep arrays and objects may nest, as in encoding/json.
const maxDepth = 10000

// canon builds canonical forms; its buffers are reused through canonPool.
type canon struct {
	in    []byte
	buf   []byte
	spans []span // the members of the objects being built, innermost last
	// spaced is whether white space was skipped since whole or record
	// began: a valid value without any is already in its compact form.
	spaced bool
	// orders[n] is the order sortMembers last put an object of n members
	// in (learn); tmp is reorder's and learn's scratch.
	orders [][]uint8
	tmp    []span
}

// span is one object member in canon.buf: the name's canonical form from k,
// the value's from v, up to end; pre is the name's first 8 bytes, big
// endian, zero-padded, which orders most names without looking further.
type span struct {
	k, v, end int
	pre       uint64
}

var canonPool = sync.Pool{New: func() any { return new(canon) }}

func getCanon() *canon { return canonPool.Get().(*canon) }

func putCanon(c *canon) {
	if cap(c.buf) > 1<<20 || cap(c.spans) > 1<<14 {
		return // do not keep what one huge record grew
	}
	c.in = nil
	canonPool.Put(c)
}

// record parses in, which must be a JSON object, and leaves its members in
// c.spans, sorted by name and without duplicates.
func (c *canon) record(in []byte) error {
	c.in, c.buf, c.spans, c.spaced = in, c.buf[:0], c.spans[:0], false
	i := c.ws(0)
	if i == len(in) || in[i] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrInvalidRecord)
	}
	i, err := c.members(i+1, 1)
	if err == nil {
		if i = c.ws(i); i != len(in) {
			err = c.syntax(i, "after top-level value")
		}
	}
	if err != nil {
		return err
	}
	c.sortMembers(0)
	return nil
}

// whole parses in, any JSON value, into c.buf.
func (c *canon) whole(in []byte) error {
	c.in, c.buf, c.spans, c.spaced = in, c.buf[:0], c.spans[:0], false
	i, err := c.value(c.ws(0), 0)
	if err == nil {
		if i = c.ws(i); i != len(in) {
			err = c.syntax(i, "after top-level value")
		}
	}
	return err
}

// wholeForm returns, after record, the canonical form whole makes of the
// same object: 'o', its members in order, '}'. It builds it behind the
// members in c.buf; the members' spans stay valid.
func (c *canon) wholeForm() []byte {
	start := len(c.buf)
	c.buf = append(c.buf, 'o')
	for _, s := range c.spans {
		c.buf = append(c.buf, c.buf[s.k:s.end]...)
	}
	c.buf = append(c.buf, '}')
	return c.buf[start:]
}

// name returns the decoded name of member s.
func (c *canon) name(s span) []byte { return c.buf[s.k+5 : s.v] }

func (c *canon) syntax(i int, what string) error {
	if i >= len(c.in) {
		return fmt.Errorf("%w: unexpected end of JSON input", ErrInvalidRecord)
	}
	return fmt.Errorf("%w: invalid character %q at offset %d %s", ErrInvalidRecord, c.in[i], i, what)
}

func (c *canon) ws(i int) int {
	start := i
	for i < len(c.in) {
		switch c.in[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			c.spaced = c.spaced || i > start
			return i
		}
	}
	c.spaced = c.spaced || i > start
	return i
}

// value appends the canonical form of the value at c.in[i:] (no leading
// space) and returns the offset after it.
func (c *canon) value(i, depth int) (int, error) {
	if i >= len(c.in) {
		return i, c.syntax(i, "")
	}
	switch b := c.in[i]; {
	case b == '"':
		return c.str(i + 1)
	case b == '{':
		return c.object(i+1, depth+1)
	case b == '[':
		return c.array(i+1, depth+1)
	case b == 't':
		return c.literal(i, "true", 't')
	case b == 'f':
		return c.literal(i, "false", 'f')
	case b == 'n':
		return c.literal(i, "null", 'n')
	case b == '-' || '0' <= b && b <= '9':
		return c.number(i)
	}
	return i, c.syntax(i, "looking for beginning of value")
}

// object appends the canonical form of the object whose '{' ends before
// c.in[i] and returns the offset after its '}'.
func (c *canon) object(i, depth int) (int, error) {
	if depth > maxDepth {
		return i, fmt.Errorf("%w: nested too deeply", ErrInvalidRecord)
	}
	c.buf = append(c.buf, 'o')
	start, base := len(c.buf), len(c.spans)
	i, err := c.members(i, depth)
	if err != nil {
		return i, err
	}
	if c.sortMembers(base) {
		// Put the members in order: copy them behind, then back.
		tmp := len(c.buf)
		for _, s := range c.spans[base:] {
			c.buf = append(c.buf, c.buf[s.k:s.end]...)
		}
		n := copy(c.buf[start:], c.buf[tmp:])
		c.buf = c.buf[:start+n]
	}
	c.spans = c.spans[:base]
	c.buf = append(c.buf, '}')
	return i, nil
}

// array appends the canonical form of the array whose '[' ends before
// c.in[i] and returns the offset after its ']'.
func (c *canon) array(i, depth int) (int, error) {
	if depth > maxDepth {
		return i, fmt.Errorf("%w: nested too deeply", ErrInvalidRecord)
	}
	c.buf = append(c.buf, 'a')
	if i = c.ws(i); i < len(c.in) && c.in[i] == ']' {
		c.buf = append(c.buf, ']')
		return i + 1, nil
	}
	for {
		var err error
		if i, err = c.value(i, depth); err != nil {
			return i, err
		}
		i = c.ws(i)
		if i < len(c.in) && c.in[i] == ',' {
			i = c.ws(i + 1)
			continue
		}
		if i < len(c.in) && c.in[i] == ']' {
			c.buf = append(c.buf, ']')
			return i + 1, nil
		}
		return i, c.syntax(i, "after array element")
	}
}

func (c *canon) literal(i int, lit string, code byte) (int, error) {
	for j := 1; j < len(lit); j++ {
		if i+j >= len(c.in) || c.in[i+j] != lit[j] {
			return i + j, c.syntax(i+j, "in literal "+lit)
		}
	}
	c.buf = append(c.buf, code)
	return i + len(lit), nil
}

// members parses the members of the object whose '{' ends before c.in[i],
// up to and including its '}', appending one span each.
func (c *canon) members(i, depth int) (int, error) {
	i = c.ws(i)
	if i < len(c.in) && c.in[i] == '}' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = c.member(i, depth); err != nil {
			return i, err
		}
		i = c.ws(i)
		if i < len(c.in) && c.in[i] == ',' {
			i = c.ws(i + 1)
			continue
		}
		if i < len(c.in) && c.in[i] == '}' {
			return i + 1, nil
		}
		return i, c.syntax(i, "after object key:value pair")
	}
}

// member parses the member (name, colon, value) at c.in[i:], appends its
// span and returns the offset after its value.
func (c *canon) member(i, depth int) (int, error) {
	if i >= len(c.in) || c.in[i] != '"' {
		return i, c.syntax(i, "looking for beginning of object key string")
	}
	s := span{k: len(c.buf)}
	i, err := c.str(i + 1)
	if err != nil {
		return i, err
	}
	if i = c.ws(i); i >= len(c.in) || c.in[i] != ':' {
		return i, c.syntax(i, "after object key")
	}
	s.v = len(c.buf)
	s.pre = prefix(c.buf[s.k+5 : s.v])
	if i, err = c.value(c.ws(i+1), depth); err != nil {
		return i, err
	}
	s.end = len(c.buf)
	c.spans = append(c.spans, s)
	return i, nil
}

// sortMembers sorts c.spans[base:] by name and keeps, of members with the
// same name, the last. It reports whether it changed anything.
func (c *canon) sortMembers(base int) bool {
	ms := c.spans[base:]
	if c.inOrder(ms) {
		return false
	}
	if c.reorder(ms) {
		return true
	}
	if len(ms) > 64 {
		slices.SortStableFunc(ms, c.compare)
	} else {
		c.insertionSort(ms)
	}
	n := 0
	for j := range ms {
		if j+1 < len(ms) && c.compare(ms[j], ms[j+1]) == 0 {
			continue // a later one follows
		}
		ms[n] = ms[j]
		n++
	}
	c.spans = c.spans[:base+n]
	c.learn(ms[:n])
	return true
}

// orderMin and orderMax bound the members of an object for its canon to
// remember how it sorted them (reorder).
const orderMin, orderMax = 8, 64

// reorder sorts ms by the last order learn kept for objects of as many
// members, when that order puts them strictly in order: then it is the
// order, and they have no repeated name. The records of one CRM come
// with their members in the same order; ordering them so costs as many
// comparisons as members, where sorting them costs some n²/4.
func (c *canon) reorder(ms []span) bool {
	if len(ms) < orderMin || len(ms) >= len(c.orders) || len(c.orders[len(ms)]) == 0 {
		return false
	}
	order := c.orders[len(ms)]
	c.tmp = append(c.tmp[:0], ms...)
	for j, k := range order {
		ms[j] = c.tmp[k]
		if j > 0 && c.compare(ms[j-1], ms[j]) >= 0 {
			copy(ms, c.tmp)
			return false
		}
	}
	return true
}

// learn keeps the order sortMembers put ms, an object's members as it
// keeps them, in: each span's place among them as they came, which is the
// order of their offsets k in c.buf. Whatever it keeps, reorder uses it
// only where it gives a strict order.
func (c *canon) learn(ms []span) {
	if len(ms) < orderMin || len(ms) > orderMax {
		return
	}
	if c.orders == nil {
		c.orders = make([][]uint8, orderMax+1)
	}
	c.tmp = append(c.tmp[:0], ms...)
	slices.SortFunc(c.tmp, func(a, b span) int { return a.k - b.k })
	order := c.orders[len(ms)][:0]
	for _, s := range ms {
		j, _ := slices.BinarySearchFunc(c.tmp, s.k, func(t span, k int) int { return t.k - k })
		order = append(order, uint8(j))
	}
	c.orders[len(ms)] = order
}

// inOrder reports whether ms is sorted by name, without repeats.
func (c *canon) inOrder(ms []span) bool {
	for j := 1; j < len(ms); j++ {
		if c.compare(ms[j-1], ms[j]) >= 0 {
			return false
		}
	}
	return true
}

// insertionSort sorts ms by name, stably, without calls through a func
// value: faster than slices.SortStableFunc for the few members of most
// objects.
func (c *canon) insertionSort(ms []span) {
	for j := 1; j < len(ms); j++ {
		x, i := ms[j], j
		for ; i > 0 && c.compare(ms[i-1], x) > 0; i-- {
			ms[i] = ms[i-1]
		}
		ms[i] = x
	}
}

// compare orders members by name.
func (c *canon) compare(a, b span) int {
	if a.pre != b.pre {
		if a.pre < b.pre {
			return -1
		}
		return 1
	}
	return bytes.Compare(c.name(a), c.name(b))
}

// prefix returns the first 8 bytes of name as a big-endian number, padded
// with zeros: a name that sorts before another has a prefix no greater.
func prefix(name []byte) uint64 {
	if len(name) >= 8 {
		return binary.BigEndian.Uint64(name)
	}
	var p uint64
	for j := range 8 {
		p <<= 8
		if j < len(name) {
			p |= uint64(name[j])
		}
	}
	return p
}
