package main

import (
	"io"
	"log/slog"
	"time"

	"github.com/lmittmann/tint"

	"github.com/gormic/crm-bridge/internal/term"
)

// newLogger returns the process's logger: coloured text through tint when
// format is "text", or "auto" on a terminal; JSON lines otherwise. Both
// write durations as "10s", never as nanoseconds.
func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	return newLoggerTo(format, level, w, w)
}

// newLoggerTo is newLogger writing to w, for the terminal (or not) that
// out is: w may be a logbuf.Writer in front of out.
func newLoggerTo(format string, level slog.Level, out, w io.Writer) *slog.Logger {
	if format == "auto" {
		format = "json"
		if term.IsTerminal(out) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(tint.NewTextHandler(w, &tint.Options{
			Level:      level,
			TimeFormat: time.TimeOnly,
			NoColor:    !term.IsTerminal(out),
		}))
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: readableDuration}))
}

// readableDuration writes a time.Duration as people read it ("10s",
// "1.5ms"), where slog's JSON handler would write nanoseconds.
func readableDuration(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
