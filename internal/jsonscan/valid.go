package jsonscan

import "bytes"

// maxDepth is encoding/json's limit on the nesting of arrays and
// objects, which it does not export: it finds text nested deeper
// invalid.
const maxDepth = 10000

// Valid reports whether b is one valid JSON text: exactly when
// encoding/json.Valid does (FuzzValid, TestValidAsEncodingJSON), nesting
// limit included, but three times faster or more. encoding/json steps a state
// machine through a function call per byte; Valid runs through a
// string's plain bytes in a tight loop, and the bridge checks every
// export page, stored record and command body it reads before it walks
// them (BenchmarkValid).
func Valid(b []byte) bool {
	i := ValidValue(b, Space(b, 0), 0)
	return i >= 0 && Space(b, i) == len(b)
}

// ValidValue returns the offset just past the valid JSON value that
// starts at b[i], inside depth arrays and objects (encoding/json refuses
// text nested more than 10,000 deep); -1 if there is none. It is Valid for
// one value of a text, the rest of the text unread.
func ValidValue(b []byte, i, depth int) int {
	var small [64]byte
	stack := small[:0] // '{' or '[' of each open object or array
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return -1
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth+len(stack) >= maxDepth {
				return -1
			}
			stack = append(stack, c)
			i = Space(b, i+1)
			if i < len(b) && b[i] == c+2 { // '}' is '{'+2, ']' is '['+2
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				if i = nameColon(b, i); i < 0 {
					return -1
				}
			}
			continue
		case '"':
			if i = validString(b, i); i < 0 {
				return -1
			}
		case 't':
			if i = literal(b, i, "true"); i < 0 {
				return -1
			}
		case 'f':
			if i = literal(b, i, "false"); i < 0 {
				return -1
			}
		case 'n':
			if i = literal(b, i, "null"); i < 0 {
				return -1
			}
		default:
			if i = number(b, i); i < 0 {
				return -1
			}
		}
		// A value ended at b[i]: close what it ends, then the next value.
		for {
			if len(stack) == 0 {
				return i
			}
			i = Space(b, i)
			if i >= len(b) {
				return -1
			}
			top := stack[len(stack)-1]
			if b[i] == top+2 {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return -1
			}
			i = Space(b, i+1)
			if top == '{' {
				if i = nameColon(b, i); i < 0 {
					return -1
				}
			}
			break
		}
	}
}

// ValidMembers calls f with each member of the object whose '{' is b[i],
// inside depth arrays and objects, as Members gives them, checking the
// object as Valid checks it: one walk where Valid and then Members take
// two. It returns the offset just past the object, or -1 if it is not
// valid JSON; f may have been called for the members before the fault.
func ValidMembers(b []byte, i, depth int, f func(Member)) int {
	if depth >= maxDepth {
		return -1
	}
	i = Space(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		m := Member{Name: i}
		if m.NameEnd = validString(b, i); m.NameEnd < 0 {
			return -1
		}
		m.Escaped = bytes.IndexByte(b[m.Name:m.NameEnd], '\\') >= 0
		if i = Space(b, m.NameEnd); i >= len(b) || b[i] != ':' {
			return -1
		}
		m.Value = Space(b, i+1)
		if m.End = ValidValue(b, m.Value, depth+1); m.End < 0 {
			return -1
		}
		m.ValueEscaped = b[m.Value] == '"' && bytes.IndexByte(b[m.Value:m.End], '\\') >= 0
		f(m)
		switch i = Space(b, m.End); {
		case i < len(b) && b[i] == ',':
			i = Space(b, i+1)
		case i < len(b) && b[i] == '}':
			return i + 1
		default:
			return -1
		}
	}
}

// nameColon checks a member's name at b[i] and the colon after it, and
// returns the offset of its value; -1 if they are not there.
func nameColon(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = validString(b, i); i < 0 {
		return -1
	}
	i = Space(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return Space(b, i+1)
}

// plain marks the bytes a string holds as they are: not a quote, not a
// backslash, not a control character. encoding/json checks nothing
// else, not even UTF-8.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// hex marks the hexadecimal digits.
var hex = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()

// validString returns the offset just past the valid string literal
// whose opening quote is b[i]; -1 if it is not one.
func validString(b []byte, i int) int {
	i++
	for {
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !hex[b[i+2]] || !hex[b[i+3]] || !hex[b[i+4]] || !hex[b[i+5]] {
					return -1
				}
				i += 6
			default:
				return -1
			}
		default: // a control character
			return -1
		}
	}
}

// literal returns the offset just past word at b[i]; -1 if it is not
// there.
func literal(b []byte, i int, word string) int {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return -1
	}
	return i + len(word)
}

// number returns the offset just past the valid number at b[i]; -1 if
// there is none: an optional minus, 0 or digits not starting with 0, an
// optional fraction, an optional exponent.
func number(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

// digits returns the offset of the first byte at or after b[i] that is
// not a decimal digit.
func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}
