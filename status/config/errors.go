package config

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a config file.
type Error struct {
	File   string
	Line   int
	Column int
	Field  string // dotted path, e.g. checks[2].expect.status
	Msg    string
}

func (e Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Column, e.Field, e.Msg)
}

// Errors is every problem found, in file order.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
	return es
}

// without drops the errors about a field that one of failed already
// names, or about a field inside it.
func (es Errors) without(failed Errors) Errors {
	var out Errors
	for _, e := range es {
		covered := false
		for _, f := range failed {
			if e.Field == f.Field || strings.HasPrefix(e.Field, f.Field+".") || strings.HasPrefix(e.Field, f.Field+"[") {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, e)
		}
	}
	return out
}
