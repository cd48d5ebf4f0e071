package config

import (
	"os"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expand replaces ${VAR} and ${VAR:-default} in every scalar value after
// parsing, so line numbers stay true and secrets never sit in the file.
func (d *decoder) expand(n *yaml.Node, path string, lookup func(string) (string, bool)) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = path + "[" + strconv.Itoa(i) + "]"
			}
			d.expand(c, p, lookup)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.expand(n.Content[i+1], join(path, n.Content[i].Value), lookup)
		}
	case yaml.AliasNode:
		d.aliased = true // its anchor is expanded where it is written
	case yaml.ScalarNode:
		if !envRef.MatchString(n.Value) {
			return
		}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			m := envRef.FindStringSubmatch(ref)
			if v, ok := lookup(m[1]); ok && v != "" {
				return v
			}
			if m[2] != "" {
				return m[3]
			}
			if d.tolerate != nil && d.tolerate(path) {
				d.unresolved = append(d.unresolved, Error{Field: path})
				return ref
			}
			d.fail(n, path, "environment variable %s is not set (set it, or give a default: ${%s:-value})", m[1], m[1])
			return ""
		})
		if n.Style == 0 {
			n.Tag = "" // re-resolve the expanded plain scalar (a number stays a number)
		}
	}
}

// osLookup reads the process environment.
func osLookup(k string) (string, bool) { return os.LookupEnv(k) }
