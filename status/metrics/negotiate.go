// Portions copyright 2013 The Go Authors. All rights reserved. Use of this
// source code is governed by a BSD-style license that can be found at
// https://developers.google.com/open-source/licenses/bsd. The parsing below
// is client_golang v1.23.2's internal copy of golang/gddo's httputil
// (NegotiateContentEncoding, header.ParseAccept), which promhttp uses and
// does not export.

package metrics

import (
	"net/http"
	"strings"
)

// negotiateCoding is the coding promhttp answers r with among identity and
// gzip, the codings it offers: "" when neither is acceptable (promhttp
// answers that with an error). The text path must choose as promhttp does,
// odd headers too (every Accept-Encoding line, a malformed part ending a
// line, q only right after ';'), so this is promhttp's own parsing, not a
// reading of RFC 9110 of our own.
func negotiateCoding(r *http.Request) string {
	best, bestQ := "identity", -1.0
	specs := parseAccept(r.Header["Accept-Encoding"])
	for _, offer := range []string{"identity", "gzip"} {
		for _, spec := range specs {
			if spec.q > bestQ && (spec.value == "*" || spec.value == offer) {
				best, bestQ = offer, spec.q
			}
		}
	}
	if bestQ == 0 {
		return ""
	}
	return best
}

type acceptSpec struct {
	value string
	q     float64
}

// parseAccept is gddo's header.ParseAccept over a header's lines.
func parseAccept(lines []string) (specs []acceptSpec) {
loop:
	for _, s := range lines {
		for {
			var spec acceptSpec
			spec.value, s = expectTokenSlash(s)
			if spec.value == "" {
				continue loop
			}
			spec.q = 1.0
			s = skipSpace(s)
			if strings.HasPrefix(s, ";") {
				s = skipSpace(s[1:])
				if !strings.HasPrefix(s, "q=") {
					continue loop
				}
				spec.q, s = expectQuality(s[2:])
				if spec.q < 0.0 {
					continue loop
				}
			}
			specs = append(specs, spec)
			s = skipSpace(s)
			if !strings.HasPrefix(s, ",") {
				continue loop
			}
			s = skipSpace(s[1:])
		}
	}
	return specs
}

// isSpace and isToken are RFC 2616's LWS characters and token characters
// (any CHAR except CTLs or separators).
func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

func isToken(b byte) bool {
	return b > 31 && b < 127 && !strings.ContainsRune(" \t\"(),/:;<=>?@[]\\{}", rune(b))
}

func skipSpace(s string) string {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return s[i:]
}

func expectTokenSlash(s string) (token, rest string) {
	i := 0
	for i < len(s) && (isToken(s[i]) || s[i] == '/') {
		i++
	}
	return s[:i], s[i:]
}

func expectQuality(s string) (q float64, rest string) {
	switch {
	case len(s) == 0:
		return -1, ""
	case s[0] == '0':
		q = 0
	case s[0] == '1':
		q = 1
	default:
		return -1, ""
	}
	s = s[1:]
	if !strings.HasPrefix(s, ".") {
		return q, s
	}
	s = s[1:]
	i, n, d := 0, 0, 1
	for ; i < len(s); i++ {
		b := s[i]
		if b < '0' || b > '9' {
			break
		}
		n = n*10 + int(b) - '0'
		d *= 10
	}
	return q + float64(n)/float64(d), s[i:]
}
