// Package testlog gives tests the logger of the code under test: silent,
// unless TEST_LOG is set, when it writes every level to stderr, each line
// marked with the test's name.
package testlog

import (
	"log/slog"
	"os"
	"testing"
)

// New returns a logger for the code that t tests.
func New(t testing.TB) *slog.Logger {
	t.Helper()
	if os.Getenv("TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
}
