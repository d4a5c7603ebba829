package main

import (
	"io/fs"
	"strings"
	"testing"
)

// TestUsageFiles: every file in usage/ is the help of a client subcommand,
// its first line the synopsis that starts with the subcommand's name.
func TestUsageFiles(t *testing.T) {
	names := []string{"publish", "watch", "resync", "get", "find", "list", "dlq list", "dlq replay", "dlq discard"}
	files, err := fs.Glob(usages, "usage/*")
	if err != nil || len(files) != len(names) {
		t.Fatalf("got %d files in usage/ (%v), want %d: %q", len(files), err, len(names), names)
	}
	for _, name := range names {
		if got := usage(name); !strings.HasPrefix(got, "bridge "+name+" ") || strings.HasSuffix(got, "\n") {
			t.Errorf("usage(%q): got %q, want the synopsis of bridge %s first and no newline last", name, got, name)
		}
	}
}
