package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/streams"
)

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdName    = regexp.MustCompile(`[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)
)

// repoFiles returns the repository's files (relative, slash-separated)
// whose names end in one of exts, outside .git, testdata and node_modules
// (examples/node's installed packages, not in git).
func repoFiles(t *testing.T, exts ...string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		for _, ext := range exts {
			if !d.IsDir() && strings.HasSuffix(path, ext) {
				rel, _ := filepath.Rel(repoRoot, path)
				files = append(files, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// slug is the anchor GitHub gives a heading.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

func anchors(t *testing.T, file string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, file))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range mdHeading.FindAllStringSubmatch(string(b), -1) {
		out[slug(strings.ReplaceAll(m[1], "`", ""))] = true
	}
	return out
}

// TestDocLinksResolve: every relative link in the Markdown pages points
// to a file of the repository, and its #anchor to a heading there.
func TestDocLinksResolve(t *testing.T) {
	for _, page := range repoFiles(t, ".md") {
		b, err := os.ReadFile(filepath.Join(repoRoot, page))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			if file == "" {
				file = page
			} else {
				file = filepath.ToSlash(filepath.Join(filepath.Dir(page), file))
			}
			if _, err := os.Stat(filepath.Join(repoRoot, file)); err != nil {
				t.Errorf("%s: link %s: got no file %s, want one", page, target, file)
				continue
			}
			if anchor != "" && strings.HasSuffix(file, ".md") && !anchors(t, file)[anchor] {
				t.Errorf("%s: link %s: got no heading #%s in %s, want one", page, target, anchor, file)
			}
		}
	}
}

// TestCitedPagesExist: a Markdown page named in code or docs (a comment
// citing "docs/contract.md") is one the repository holds.
func TestCitedPagesExist(t *testing.T) {
	pages := map[string]bool{}
	for _, p := range repoFiles(t, ".md") {
		pages[p] = true
		pages[filepath.Base(p)] = true
	}
	for _, file := range repoFiles(t, ".go", ".md", "Makefile", ".yaml") {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range mdName.FindAllString(string(b), -1) {
			if !pages[name] && !pages[filepath.ToSlash(filepath.Join(filepath.Dir(file), name))] {
				t.Errorf("%s cites %s: got no such page in the repository, want one", file, name)
			}
		}
	}
}

// TestContractStatesStreamLimits: the retention and duplicate window that
// docs/contract.md gives each stream are the ones the bridge configures.
func TestContractStatesStreamLimits(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs/contract.md"))
	if err != nil {
		t.Fatal(err)
	}
	const header = "| stream | kept | duplicate window |"
	_, table, ok := strings.Cut(string(b), header)
	if !ok {
		t.Fatalf("docs/contract.md: got no table %q, want one", header)
	}
	human := func(d time.Duration) string {
		switch {
		case d == 0:
			return "no age limit"
		case d%(24*time.Hour) == 0:
			return fmt.Sprintf("%d days", d/(24*time.Hour))
		case d == time.Hour:
			return "1 hour"
		default:
			return fmt.Sprintf("%d minutes", d/time.Minute)
		}
	}
	for _, sc := range streams.Definitions(streams.Config{Prefix: "crm", Replicas: 1, Partitions: 16}) {
		row := regexp.MustCompile("(?m)^\\| `" + sc.Name + "` \\| ([^|]+) \\| ([^|]+) \\|$").FindStringSubmatch(table)
		if row == nil {
			t.Errorf("docs/contract.md: got no retention row for %s, want one", sc.Name)
			continue
		}
		if want := human(sc.MaxAge); !strings.Contains(row[1], want) {
			t.Errorf("%s kept: got %q, want %q", sc.Name, row[1], want)
		}
		if want := human(sc.Duplicates); strings.TrimSpace(row[2]) != want {
			t.Errorf("%s duplicate window: got %q, want %q", sc.Name, row[2], want)
		}
	}
}
