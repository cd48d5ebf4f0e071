package probes

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// jsonMatcher checks a value at a dot path in a JSON body. The path syntax is
// deliberately small: object keys separated by dots, numeric segments index
// arrays ("checks.0.status"). The value found is compared as text: strings as
// they are, numbers, booleans and null in their JSON spelling.
type jsonMatcher struct {
	path    []string
	equals  string
	re      *regexp.Regexp
	rawPath string
}

func newJSONMatcher(j JSONExpect) (jsonMatcher, error) {
	if j.Path == "" {
		return jsonMatcher{}, fmt.Errorf("path is required")
	}
	if (j.Equals == "") == (j.Matches == "") {
		return jsonMatcher{}, fmt.Errorf("set exactly one of equals or matches")
	}
	m := jsonMatcher{path: strings.Split(j.Path, "."), equals: j.Equals, rawPath: j.Path}
	if j.Matches != "" {
		re, err := regexp.Compile(j.Matches)
		if err != nil {
			return jsonMatcher{}, fmt.Errorf("matches: %v", err)
		}
		m.re = re
	}
	return m, nil
}

// check returns "" when the body satisfies the matcher, else why not.
func (m jsonMatcher) check(body []byte) string {
	v, why := jsonLookup(body, m.path, m.rawPath)
	if why != "" {
		return why
	}
	got := jsonText(v)
	if m.re != nil {
		if !m.re.MatchString(got) {
			return fmt.Sprintf("json path %s = %q, does not match /%s/", m.rawPath, got, m.re)
		}
		return ""
	}
	if got != m.equals {
		return fmt.Sprintf("json path %s = %q, want %q", m.rawPath, got, m.equals)
	}
	return ""
}

// jsonLookup finds the value at path in a JSON body, or says why not.
func jsonLookup(body []byte, path []string, rawPath string) (any, string) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, "body is not JSON"
	}
	for _, seg := range path {
		switch node := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = node[seg]; !ok {
				return nil, fmt.Sprintf("json path %s: no key %q", rawPath, seg)
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(node) {
				return nil, fmt.Sprintf("json path %s: no index %q", rawPath, seg)
			}
			v = node[i]
		default:
			return nil, fmt.Sprintf("json path %s: cannot descend into %q", rawPath, seg)
		}
	}
	return v, ""
}

func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
