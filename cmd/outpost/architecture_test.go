package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// No package keeps mutable state behind the reader's back: no init()
// functions anywhere, and no exported package-level variables other than
// errors (tables are unexported, or returned by functions).
func TestNoInitAndNoExportedPackageVars(t *testing.T) {
	fset := token.NewFileSet()
	files := 0
	eachGoFile(t, fset, func(path string, f *ast.File) {
		files++
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Name.Name == "init" && d.Recv == nil {
					t.Errorf("%s: func init()", fset.Position(d.Pos()))
				}
			case *ast.GenDecl:
				if d.Tok != token.VAR {
					continue
				}
				for _, spec := range d.Specs {
					for _, n := range spec.(*ast.ValueSpec).Names {
						if n.IsExported() && !strings.HasPrefix(n.Name, "Err") {
							t.Errorf("%s: exported package-level var %s", fset.Position(n.Pos()), n.Name)
						}
					}
				}
			}
		}
	})
	if files < 50 {
		t.Fatalf("only %d Go files read", files)
	}
}

// Every durable change goes through the node's one way in. Only
// status/store opens the data file (imports bbolt), and an entry is
// applied through a store.Log (a Log option, the node's changes), never
// on the *store.Store a package reads from: a raft log put behind the Log
// then sees every change. status/machine is that Log's applier (what raft's
// FSM calls): it alone hands entries on to the store.
func TestChangesGoThroughTheLog(t *testing.T) {
	fset := token.NewFileSet()
	applies := 0
	eachGoFile(t, fset, func(path string, f *ast.File) {
		inStore := strings.Contains(filepath.ToSlash(path), "status/store/")
		applier := strings.Contains(filepath.ToSlash(path), "status/machine/")
		for _, imp := range f.Imports {
			if strings.Trim(imp.Path.Value, `"`) == "go.etcd.io/bbolt" && !inStore {
				t.Errorf("%s imports bbolt: only status/store opens the data file", path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 1 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			lit, isLit := call.Args[0].(*ast.CompositeLit)
			if !ok || sel.Sel.Name != "Apply" || !isLit {
				return true
			}
			if typ, ok := lit.Type.(*ast.SelectorExpr); !ok || typ.Sel.Name != "Entry" {
				return true
			}
			applies++
			var recv string
			switch x := sel.X.(type) {
			case *ast.Ident:
				recv = x.Name
			case *ast.SelectorExpr:
				recv = x.Sel.Name
			}
			if recv != "Log" && recv != "changes" && !applier {
				t.Errorf("%s: an entry applied on %q, not on a store.Log", fset.Position(call.Pos()), recv)
			}
			return true
		})
	})
	if applies < 10 {
		t.Fatalf("only %d entries applied in non-test code: the walk is broken", applies)
	}
}

// eachGoFile parses every non-test Go file of the module (not testdata,
// node_modules or dot folders) and hands it to fn.
func eachGoFile(t *testing.T, fset *token.FileSet, fn func(path string, f *ast.File)) {
	t.Helper()
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != "../.." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		fn(path, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The public representation is pure: status/statuspage imports the engine's
// types and the standard library's data packages, nothing that does I/O
// and nothing above it, so a payload is a function of its inputs.
func TestStatuspageIsPure(t *testing.T) {
	allowed := map[string]bool{"encoding/json": true, "fmt": true, "time": true, "strings": true, "slices": true, "sort": true,
		"strconv": true, "html": true, "html/template": true, "github.com/outpost-status/outpost/status": true}
	fset := token.NewFileSet()
	names, err := filepath.Glob("../../status/statuspage/*.go")
	if err != nil || len(names) == 0 {
		t.Fatalf("no status/statuspage files: %v", err)
	}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if path := strings.Trim(imp.Path.Value, `"`); !allowed[path] {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}

// Code stays readable in one sitting: no non-test file over 450 lines, no
// function over 80, and `serve` only parses, loads and runs a node.
func TestFileAndFunctionSizes(t *testing.T) {
	fset := token.NewFileSet()
	eachGoFile(t, fset, func(path string, f *ast.File) {
		if lines := fset.Position(f.FileEnd).Line; lines > 450 {
			t.Errorf("%s: %d lines (at most 450)", path, lines)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
			limit := 80
			if fn.Name.Name == "runServe" {
				limit = 40
			}
			if n > limit {
				t.Errorf("%s: %s is %d lines (at most %d)", path, fn.Name.Name, n, limit)
			}
		}
	})
}

// Nothing of another package runs inside a store transaction: no exported
// method of *store.Store that opens one (calls s.view or s.update) takes a
// func value, since a caller's closure could take its own locks or do I/O
// while bbolt holds the transaction (the webhook loop's pick closure once
// took the notify.Slots mutex under a read).
func TestNoClosureRunsInAStoreTransaction(t *testing.T) {
	// Incidents' keep/stop predicates predate this rule; its callers are
	// status/web and status/monitor, whose predicates only read the
	// decoded incident. Listed here so a new one cannot hide behind it.
	known := map[string]bool{"Incidents": true}
	fset := token.NewFileSet()
	names, err := filepath.Glob("../../status/store/*.go")
	if err != nil || len(names) == 0 {
		t.Fatalf("no status/store files: %v", err)
	}
	methods := 0
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !fn.Name.IsExported() || !opensTx(fn) {
				continue
			}
			methods++
			for _, p := range fn.Type.Params.List {
				if _, isFunc := p.Type.(*ast.FuncType); isFunc && !known[fn.Name.Name] {
					t.Errorf("%s: store.%s opens a transaction and takes a func value", fset.Position(p.Pos()), fn.Name.Name)
				}
			}
		}
	}
	if methods < 10 {
		t.Fatalf("only %d exported store methods open a transaction: the walk is broken", methods)
	}
}

// opensTx reports whether fn calls its receiver's view or update.
func opensTx(fn *ast.FuncDecl) bool {
	found := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "view" || sel.Sel.Name == "update") {
				found = true
			}
		}
		return !found
	})
	return found
}

// One delivery loop type drives every subscriber kind: status/webhook and
// status/email each provide a notify.Transport (the kind's way out) and
// neither builds a loop of its own from the core's parts (a Waker, Slots,
// Drain); notify.Subscribers is the loop (TestOneLoopTypeDrivesBothKinds
// runs it for both kinds on one store).
func TestOneSubscriberLoopForEveryKind(t *testing.T) {
	loopParts := map[string]bool{"NewWaker": true, "Waker": true, "Slots": true, "Drain": true}
	for _, pkg := range []string{"webhook", "email"} {
		fset := token.NewFileSet()
		names, err := filepath.Glob("../../status/" + pkg + "/*.go")
		if err != nil || len(names) == 0 {
			t.Fatalf("no status/%s files: %v", pkg, err)
		}
		transports := 0
		for _, name := range names {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.SelectorExpr:
					if id, ok := x.X.(*ast.Ident); ok && id.Name == "notify" && loopParts[x.Sel.Name] {
						t.Errorf("%s: status/%s uses notify.%s: a loop of its own", fset.Position(x.Pos()), pkg, x.Sel.Name)
					}
				case *ast.ValueSpec:
					if sel, ok := x.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Transport" {
						if id, ok := sel.X.(*ast.Ident); ok && id.Name == "notify" {
							transports++
						}
					}
				}
				return true
			})
		}
		if transports != 1 {
			t.Errorf("status/%s declares %d notify.Transport implementations, want 1", pkg, transports)
		}
	}
}
