// Package term is how the client subcommands write for a person at a
// terminal: whether a writer is one (IsTerminal), colours that are on only
// there (Palette), text from messages made safe to print (Clean), and
// times in local time (Clock).
package term

import (
	"io"
	"os"
	"strings"
	"time"
	"unicode"

	xterm "golang.org/x/term"
)

// IsTerminal reports whether v, a reader or a writer, is a file that is a
// terminal.
func IsTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && xterm.IsTerminal(int(f.Fd()))
}

// ANSI SGR codes of the colours the subcommands use.
const (
	Bold    = "1"
	Dim     = "2"
	Red     = "31"
	Green   = "32"
	Yellow  = "33"
	Magenta = "35"
	Cyan    = "36"
)

// Palette colours text with ANSI escapes, or, when not On (the zero
// value), leaves it alone.
type Palette struct{ On bool }

// NewPalette returns a palette that is on when w is a terminal and the
// NO_COLOR variable is empty (https://no-color.org).
func NewPalette(w io.Writer, getenv func(string) string) Palette {
	return Palette{On: IsTerminal(w) && getenv("NO_COLOR") == ""}
}

// Paint returns s in the colour of code; s itself when p is off or s is
// empty.
func (p Palette) Paint(code, s string) string {
	if !p.On || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Bold returns s in bold.
func (p Palette) Bold(s string) string { return p.Paint(Bold, s) }

// Clean replaces control characters, such as the escape that starts a
// terminal's control sequence, with '?', so that text from messages is
// printed as text.
func Clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// Clock returns t in local time: the time of day, with the date unless t
// is on now's day.
func Clock(t, now time.Time) string {
	t, now = t.Local(), now.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format(time.TimeOnly)
	}
	return t.Format(time.DateTime)
}
