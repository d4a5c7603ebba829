package poller

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalidRecord is returned (wrapped) by Diff, Digest and NewEvent for a
// record that is not valid JSON or not a JSON object.
var ErrInvalidRecord = errors.New("poller: invalid customer record")

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
const (
	maxDepth = 10000 // as encoding/json
	maxExp   = 1e15  // |exponent| beyond which a number is refused
)

// canon builds canonical forms; its buffers are reused through canonPool.
type canon struct {
	in    []byte
	buf   []byte
	spans []span // the members of the objects being built, innermost last
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
	c.in, c.buf, c.spans = in, c.buf[:0], c.spans[:0]
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
	c.in, c.buf, c.spans = in, c.buf[:0], c.spans[:0]
	i, err := c.value(c.ws(0), 0)
	if err == nil {
		if i = c.ws(i); i != len(in) {
			err = c.syntax(i, "after top-level value")
		}
	}
	return err
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
	for i < len(c.in) {
		switch c.in[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
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
		if i >= len(c.in) || c.in[i] != '"' {
			return i, c.syntax(i, "looking for beginning of object key string")
		}
		s := span{k: len(c.buf)}
		var err error
		if i, err = c.str(i + 1); err != nil {
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

// sortMembers sorts c.spans[base:] by name and keeps, of members with the
// same name, the last. It reports whether it changed anything.
func (c *canon) sortMembers(base int) bool {
	ms := c.spans[base:]
	sorted := true
	for j := 1; j < len(ms); j++ {
		if c.compare(ms[j-1], ms[j]) >= 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return false
	}
	if len(ms) > 64 {
		slices.SortStableFunc(ms, c.compare)
	} else { // insertion sort, stable, without calls through a func value
		for j := 1; j < len(ms); j++ {
			x, i := ms[j], j
			for ; i > 0 && c.compare(ms[i-1], x) > 0; i-- {
				ms[i] = ms[i-1]
			}
			ms[i] = x
		}
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
	return true
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

// str appends the canonical form of the string whose opening quote ends
// before c.in[i] and returns the offset after its closing quote.
func (c *canon) str(i int) (int, error) {
	c.buf = append(c.buf, 's', 0, 0, 0, 0)
	start := len(c.buf)
	in := c.in
	for {
		// Copy the run of bytes that need no work.
		j := i
		for j < len(in) {
			if b := in[j]; b < 0x20 || b == '"' || b == '\\' || b >= utf8.RuneSelf {
				break
			}
			j++
		}
		c.buf = append(c.buf, in[i:j]...)
		i = j
		if i >= len(in) {
			return i, c.syntax(i, "")
		}
		switch b := in[i]; {
		case b == '"':
			binary.BigEndian.PutUint32(c.buf[start-4:], uint32(len(c.buf)-start))
			return i + 1, nil
		case b < 0x20:
			return i, c.syntax(i, "in string literal")
		case b >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				c.buf = utf8.AppendRune(c.buf, utf8.RuneError)
			} else {
				c.buf = append(c.buf, in[i:i+size]...)
			}
			i += size
		default: // '\\'
			var err error
			if i, err = c.escape(i + 1); err != nil {
				return i, err
			}
		}
	}
}

// escape appends the character of the escape whose backslash ends before
// c.in[i], as encoding/json decodes it, and returns the offset after it.
func (c *canon) escape(i int) (int, error) {
	if i >= len(c.in) {
		return i, c.syntax(i, "")
	}
	switch c.in[i] {
	case '"', '\\', '/':
		c.buf = append(c.buf, c.in[i])
	case 'b':
		c.buf = append(c.buf, '\b')
	case 'f':
		c.buf = append(c.buf, '\f')
	case 'n':
		c.buf = append(c.buf, '\n')
	case 'r':
		c.buf = append(c.buf, '\r')
	case 't':
		c.buf = append(c.buf, '\t')
	case 'u':
		r, err := c.hex4(i + 1)
		if err != nil {
			return i, err
		}
		i += 4
		if utf16.IsSurrogate(r) {
			// A valid pair is one character; anything else, U+FFFD
			// (the next escape, if any, is read on its own).
			if i+6 < len(c.in) && c.in[i+1] == '\\' && c.in[i+2] == 'u' {
				if r2, err := c.hex4(i + 3); err == nil {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						c.buf = utf8.AppendRune(c.buf, d)
						return i + 7, nil
					}
				}
			}
			r = utf8.RuneError
		}
		c.buf = utf8.AppendRune(c.buf, r)
	default:
		return i, c.syntax(i, "in string escape code")
	}
	return i + 1, nil
}

func (c *canon) hex4(i int) (rune, error) {
	if i+4 > len(c.in) {
		for j := i; j < len(c.in); j++ {
			if unhex(c.in[j]) < 0 {
				return 0, c.syntax(j, "in \\u hexadecimal character escape")
			}
		}
		return 0, c.syntax(len(c.in), "")
	}
	var r rune
	for j := i; j < i+4; j++ {
		h := unhex(c.in[j])
		if h < 0 {
			return 0, c.syntax(j, "in \\u hexadecimal character escape")
		}
		r = r<<4 | h
	}
	return r, nil
}

func unhex(b byte) rune {
	switch {
	case '0' <= b && b <= '9':
		return rune(b - '0')
	case 'a' <= b && b <= 'f':
		return rune(b - 'a' + 10)
	case 'A' <= b && b <= 'F':
		return rune(b - 'A' + 10)
	}
	return -1
}

// number appends the canonical form of the number at c.in[i:] and returns
// the offset after it.
func (c *canon) number(i int) (int, error) {
	in := c.in
	neg := in[i] == '-'
	if neg {
		i++
	}
	// Integer part.
	intStart := i
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case i < len(in) && '1' <= in[i] && in[i] <= '9':
		i = digits(in, i+1)
	default:
		return i, c.syntax(i, "in numeric literal")
	}
	intEnd := i
	// Fraction.
	fracStart, fracEnd := i, i
	if i < len(in) && in[i] == '.' {
		fracStart = i + 1
		if i = digits(in, fracStart); i == fracStart {
			return i, c.syntax(i, "after decimal point in numeric literal")
		}
		fracEnd = i
	}
	// Exponent.
	var exp int64
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		expNeg := false
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			expNeg = in[i] == '-'
			i++
		}
		j := digits(in, i)
		if j == i {
			return j, c.syntax(j, "in exponent of numeric literal")
		}
		for ; i < j; i++ {
			if exp = exp*10 + int64(in[i]-'0'); exp > maxExp {
				return i, fmt.Errorf("%w: number exponent out of range at offset %d", ErrInvalidRecord, i)
			}
		}
		if expNeg {
			exp = -exp
		}
	}
	// Significant digits: the integer and fraction digits without leading
	// and trailing zeros.
	c.buf = append(c.buf, 'd', '+', 0, 0, 0, 0)
	if neg {
		c.buf[len(c.buf)-5] = '-'
	}
	start := len(c.buf)
	for _, part := range [2][]byte{in[intStart:intEnd], in[fracStart:fracEnd]} {
		if len(c.buf) == start {
			k := 0
			for k < len(part) && part[k] == '0' {
				k++
			}
			part = part[k:]
		}
		c.buf = append(c.buf, part...)
	}
	if len(c.buf) == start { // zero, whatever its sign
		c.buf = append(c.buf[:start-6], 'd', '0')
		return i, nil
	}
	end := len(c.buf)
	for c.buf[end-1] == '0' {
		end--
	}
	exp += int64(len(c.buf)-end) - int64(fracEnd-fracStart)
	c.buf = c.buf[:end]
	binary.BigEndian.PutUint32(c.buf[start-4:], uint32(end-start))
	c.buf = binary.BigEndian.AppendUint64(c.buf, uint64(exp))
	return i, nil
}

func digits(in []byte, i int) int {
	for i < len(in) && '0' <= in[i] && in[i] <= '9' {
		i++
	}
	return i
}
