package commands

import (
	"context"
	"log/slog"
)

// cmdLog writes one command's lines, each starting with the command's
// attributes: command_id, op and, when the subject names one,
// customer_id. Most commands write one line, "command done", which takes
// them as arguments; the logger that adds them to any other line (With)
// is made at its first use, since making it costs as much as the line.
// A command's lines are written from the goroutine that handles it.
type cmdLog struct {
	base  *slog.Logger
	attrs [3]slog.Attr
	n     int
	l     *slog.Logger
}

// commandLog returns the logger of c's lines.
func (p *Processor) commandLog(c command) *cmdLog { return newCmdLog(p.log, c) }

// newCmdLog returns the logger of c's lines, on base.
func newCmdLog(base *slog.Logger, c command) *cmdLog {
	cl := &cmdLog{base: base, n: 3}
	cl.attrs = [3]slog.Attr{slog.String("command_id", c.id), slog.String("op", c.op), slog.String("customer_id", c.customerID)}
	if c.customerID == "" {
		cl.n = 2
	}
	return cl
}

// logger is the base logger with the command's attributes.
func (cl *cmdLog) logger() *slog.Logger {
	if cl.l == nil {
		cl.l = slog.New(cl.base.Handler().WithAttrs(cl.attrs[:cl.n]))
	}
	return cl.l
}

func (cl *cmdLog) Debug(msg string, args ...any) { cl.log(slog.LevelDebug, msg, args) }
func (cl *cmdLog) Info(msg string, args ...any)  { cl.log(slog.LevelInfo, msg, args) }
func (cl *cmdLog) Warn(msg string, args ...any)  { cl.log(slog.LevelWarn, msg, args) }
func (cl *cmdLog) Error(msg string, args ...any) { cl.log(slog.LevelError, msg, args) }

// log writes a line at level, if the base logger takes it.
func (cl *cmdLog) log(level slog.Level, msg string, args []any) {
	ctx := context.Background()
	if cl.base.Enabled(ctx, level) {
		cl.logger().Log(ctx, level, msg, args...)
	}
}

// done writes the command's last line, msg at level with the command's
// attributes, then attrs (at most 5).
func (cl *cmdLog) done(level slog.Level, msg string, attrs ...slog.Attr) {
	ctx := context.Background()
	if !cl.base.Enabled(ctx, level) {
		return
	}
	var buf [8]slog.Attr
	all := append(append(buf[:0], cl.attrs[:cl.n]...), attrs...)
	cl.base.LogAttrs(ctx, level, msg, all...)
}
