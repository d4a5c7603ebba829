// This file holds the strings of the canonical form (canon.go): how a JSON
// string literal is decoded, as encoding/json decodes it.

package poller

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// str appends the canonical form of the string whose opening quote ends
// before c.in[i] and returns the offset after its closing quote.
func (c *canon) str(i int) (int, error) {
	c.buf = append(c.buf, 's', 0, 0, 0, 0)
	start := len(c.buf)
	for {
		i = c.plain(i)
		if i >= len(c.in) {
			return i, c.syntax(i, "")
		}
		switch b := c.in[i]; {
		case b == '"':
			binary.BigEndian.PutUint32(c.buf[start-4:], uint32(len(c.buf)-start))
			return i + 1, nil
		case b < 0x20:
			return i, c.syntax(i, "in string literal")
		case b >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(c.in[i:])
			if r == utf8.RuneError && size == 1 {
				c.buf = utf8.AppendRune(c.buf, utf8.RuneError)
			} else {
				c.buf = append(c.buf, c.in[i:i+size]...)
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

// plain appends the run of string bytes at c.in[i:] that need no work
// (ASCII, no control byte, quote or backslash) and returns the offset
// after it.
func (c *canon) plain(i int) int {
	j := plainEnd(c.in, i)
	c.buf = append(c.buf, c.in[i:j]...)
	return j
}

// plainEnd returns the offset of the first byte at or after in[i] that is
// not plain (a control byte, quote, backslash or non-ASCII byte), or
// len(in). It tests eight bytes at a time: in each 64-bit word, a byte's
// high bit is set in m when it is below 0x20, a quote or a backslash (the
// subtraction wraps it; x^q is zero for a quote), or when it is 0x80 or
// more (x). A borrow can only carry from a byte so marked into the bytes
// after it, so the first byte marked is the first not plain.
func plainEnd(in []byte, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for ; i+8 <= len(in); i += 8 {
		x := binary.LittleEndian.Uint64(in[i:])
		m := ((x - 0x20*ones) | ((x ^ '"'*ones) - ones) | ((x ^ '\\'*ones) - ones) | x) & highs
		if m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(in); i++ {
		if b := in[i]; b < 0x20 || b == '"' || b == '\\' || b >= utf8.RuneSelf {
			return i
		}
	}
	return i
}

// escapes maps the byte after a backslash to the character it stands for,
// but for 'u'; 0 where there is no such escape.
var escapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// escape appends the character of the escape whose backslash ends before
// c.in[i], as encoding/json decodes it, and returns the offset after it.
func (c *canon) escape(i int) (int, error) {
	switch {
	case i >= len(c.in):
		return i, c.syntax(i, "")
	case c.in[i] == 'u':
		return c.unicode(i)
	case escapes[c.in[i]] != 0:
		c.buf = append(c.buf, escapes[c.in[i]])
		return i + 1, nil
	}
	return i, c.syntax(i, "in string escape code")
}

// unicode appends the character of the \u escape whose 'u' is c.in[i] and
// returns the offset after it: a valid surrogate pair is one character,
// any other surrogate U+FFFD (the next escape, if any, is read on its own).
func (c *canon) unicode(i int) (int, error) {
	r, err := c.hex4(i + 1)
	if err != nil {
		return i, err
	}
	i += 4
	if utf16.IsSurrogate(r) {
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
	return i + 1, nil
}

// hex4 returns the value of the 4 hex digits at c.in[i:].
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

// unhex returns the value of hex digit b, -1 if it is none.
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
