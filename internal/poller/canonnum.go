// This file holds the numbers of the canonical form (canon.go): a JSON
// number as its exact decimal value, significant digits and exponent.

package poller

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// maxExp is the |exponent| beyond which a number is refused.
const maxExp = 1e15

// number appends the canonical form of the number at c.in[i:] and returns
// the offset after it.
func (c *canon) number(i int) (int, error) {
	neg := c.in[i] == '-'
	if neg {
		i++
	}
	intStart := i
	i, err := c.intPart(i)
	if err != nil {
		return i, err
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(c.in) && c.in[i] == '.' {
		fracStart = i + 1
		if i = digits(c.in, fracStart); i == fracStart {
			return i, c.syntax(i, "after decimal point in numeric literal")
		}
		fracEnd = i
	}
	i, exp, err := c.exponent(i)
	if err != nil {
		return i, err
	}
	c.decimal(neg, c.in[intStart:intEnd], c.in[fracStart:fracEnd], exp)
	return i, nil
}

// intPart returns the offset after the integer part of a number at
// c.in[i:] (its sign read).
func (c *canon) intPart(i int) (int, error) {
	switch {
	case i < len(c.in) && c.in[i] == '0':
		return i + 1, nil
	case i < len(c.in) && '1' <= c.in[i] && c.in[i] <= '9':
		return digits(c.in, i+1), nil
	}
	return i, c.syntax(i, "in numeric literal")
}

// exponent reads the exponent of a number at c.in[i:], 0 when there is
// none, and returns the offset after it. It fails beyond maxExp.
func (c *canon) exponent(i int) (int, int64, error) {
	in := c.in
	if i >= len(in) || (in[i] != 'e' && in[i] != 'E') {
		return i, 0, nil
	}
	i++
	neg := false
	if i < len(in) && (in[i] == '+' || in[i] == '-') {
		neg = in[i] == '-'
		i++
	}
	j := digits(in, i)
	if j == i {
		return j, 0, c.syntax(j, "in exponent of numeric literal")
	}
	var exp int64
	for ; i < j; i++ {
		if exp = exp*10 + int64(in[i]-'0'); exp > maxExp {
			return i, 0, fmt.Errorf("%w: number exponent out of range at offset %d", ErrInvalidRecord, i)
		}
	}
	if neg {
		exp = -exp
	}
	return j, exp, nil
}

// decimal appends the canonical form of the number whose integer digits,
// fraction digits and exponent are given: its significant digits are those
// digits without leading and trailing zeros.
func (c *canon) decimal(neg bool, intDigits, fracDigits []byte, exp int64) {
	c.buf = append(c.buf, 'd', '+', 0, 0, 0, 0)
	if neg {
		c.buf[len(c.buf)-5] = '-'
	}
	start := len(c.buf)
	if lead := bytes.TrimLeft(intDigits, "0"); len(lead) > 0 {
		c.buf = append(append(c.buf, lead...), fracDigits...)
	} else {
		c.buf = append(c.buf, bytes.TrimLeft(fracDigits, "0")...)
	}
	if len(c.buf) == start { // zero, whatever its sign
		c.buf = append(c.buf[:start-6], 'd', '0')
		return
	}
	end := len(c.buf)
	for c.buf[end-1] == '0' {
		end--
	}
	exp += int64(len(c.buf)-end) - int64(len(fracDigits))
	c.buf = c.buf[:end]
	binary.BigEndian.PutUint32(c.buf[start-4:], uint32(end-start))
	c.buf = binary.BigEndian.AppendUint64(c.buf, uint64(exp))
}

// digits returns the offset after the run of decimal digits at in[i:].
func digits(in []byte, i int) int {
	for i < len(in) && '0' <= in[i] && in[i] <= '9' {
		i++
	}
	return i
}
