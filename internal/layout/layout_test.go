// Package layout holds tests of the repository's shape: the package map in
// docs/development.md against the real import graph, and the size limits
// the code keeps to (docs/development.md, "Layout").
package layout

import (
	"bufio"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The limits on non-test Go code.
const (
	maxFileLines     = 450 // any file
	maxCmdLines      = 1200
	maxCmdFileLines  = 300
	maxFuncLinesP90  = 32
	kvSubjectsFile   = "internal/poller/kvsubjects.go" // the one file that knows "$KV." subjects
	modulePathPrefix = "github.com/gormic/crm-bridge/"
)

// root is the repository's root.
const root = "../.."

// goPackage is what go list says of one package.
type goPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// mapRow matches a row of the map: | `pkg` | owns | `a`, `b` |.
var mapRow = regexp.MustCompile("^\\| `([^`]+)` \\| (.+) \\| (.*) \\|$")

// readMap returns the map's rows: each package and what it may import
// ("—" for nothing).
func readMap(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "docs", "development.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string][]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "## Layout":
			in = true
		case in && strings.HasPrefix(line, "## "):
			in = false
		case in:
			m := mapRow.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			var may []string
			for _, f := range strings.Split(m[3], ",") {
				if f = strings.Trim(strings.TrimSpace(f), "`"); f != "" && f != "—" {
					may = append(may, f)
				}
			}
			rows[m[1]] = may
		}
	}
	if len(rows) == 0 {
		t.Fatal("docs/development.md: no package map under ## Layout")
	}
	return rows
}

// TestPackageMap holds docs/development.md's map to the code: every
// package has its line, and imports of the module's packages only what
// its line allows.
func TestPackageMap(t *testing.T) {
	rows := readMap(t)
	seen := map[string]bool{}
	for _, p := range listPackages(t) {
		name := strings.TrimPrefix(p.ImportPath, modulePathPrefix)
		may, ok := rows[name]
		if !ok {
			t.Errorf("docs/development.md's map has no line for %s", name)
			continue
		}
		seen[name] = true
		for _, imp := range p.Imports {
			dep, ok := strings.CutPrefix(imp, modulePathPrefix)
			if ok && !slices.Contains(may, dep) {
				t.Errorf("%s imports %s, which its line in docs/development.md does not allow (may import: %v)", name, dep, may)
			}
		}
	}
	for name := range rows {
		if !seen[name] {
			t.Errorf("docs/development.md's map names %s, which is not a package", name)
		}
	}
}

// sourceFile is a non-test Go file of the module.
type sourceFile struct {
	path  string // relative to the root
	lines int
	funcs []int // the length of each function with a body, in lines
	kv    bool  // it holds "$KV."
}

func sourceFiles(t *testing.T) []sourceFile {
	t.Helper()
	var files []sourceFile
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		sf := sourceFile{path: rel, lines: strings.Count(string(src), "\n"), kv: strings.Contains(string(src), "$KV.")}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				sf.funcs = append(sf.funcs, fset.Position(fd.End()).Line-fset.Position(fd.Pos()).Line+1)
			}
		}
		files = append(files, sf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestSizes keeps the non-test code within the limits above: no long
// files, a thin cmd/, short functions, and one file, kvsubjects.go, that
// knows the subjects behind key-value buckets (issue 12's rule).
func TestSizes(t *testing.T) {
	var cmdLines int
	var funcs []int
	var kv []string
	for _, f := range sourceFiles(t) {
		if f.lines > maxFileLines {
			t.Errorf("%s has %d lines; no file may have more than %d", f.path, f.lines, maxFileLines)
		}
		if strings.HasPrefix(f.path, "cmd"+string(filepath.Separator)) {
			cmdLines += f.lines
			if f.lines > maxCmdFileLines {
				t.Errorf("%s has %d lines; no file in cmd/ may have more than %d", f.path, f.lines, maxCmdFileLines)
			}
		}
		funcs = append(funcs, f.funcs...)
		if f.kv {
			kv = append(kv, filepath.ToSlash(f.path))
		}
	}
	if cmdLines >= maxCmdLines {
		t.Errorf("cmd/ has %d lines; it must stay under %d", cmdLines, maxCmdLines)
	}
	sort.Ints(funcs)
	p90 := funcs[len(funcs)*9/10]
	if p90 > maxFuncLinesP90 {
		t.Errorf("the 90th percentile of function lengths is %d lines; at most %d", p90, maxFuncLinesP90)
	}
	if want := []string{kvSubjectsFile}; !slices.Equal(kv, want) {
		t.Errorf("files that know a $KV. subject: got %v, want %v (the read model's asynchronous puts and the former state bucket; everything else uses the key-value and stream APIs)", kv, want)
	}
	t.Logf("cmd/ %d lines; %d functions, p90 %d lines", cmdLines, len(funcs), p90)
}
