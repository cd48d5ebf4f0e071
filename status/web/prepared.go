// Package web serves Outpost's public surfaces from prepared responses:
// every snapshot is rendered once (HTML, JSON), compressed once and given a
// strong ETag; handlers only pick bytes. It never blocks on probes.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// Cache lifetimes. Pages are short-lived but may be served stale by a CDN
// while it revalidates, and for a day when Outpost itself cannot answer.
const (
	CachePage   = "public, max-age=10, stale-while-revalidate=30, stale-if-error=86400"
	CacheAsset  = "public, max-age=31536000, immutable"
	CacheNone   = "no-store"
	minGzipSize = 256
)

// Prepared is a response rendered once and served many times.
type Prepared struct {
	Body         []byte
	Gzip         []byte // nil when not worth compressing
	ETag         string // strong, of Body
	GzipETag     string // strong, of the gzip representation
	ContentType  string
	CacheControl string
	Status       int
}

// Prepare compresses body once and computes its validators.
func Prepare(body []byte, contentType, cacheControl string) *Prepared {
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:16])
	p := &Prepared{Body: body, ETag: `"` + tag + `"`, ContentType: contentType, CacheControl: cacheControl, Status: http.StatusOK}
	if len(body) >= minGzipSize {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		p.Gzip = buf.Bytes()
		p.GzipETag = `"` + tag + `-gz"`
	}
	return p
}

// ServeHTTP writes the prepared response, honouring If-None-Match and
// Accept-Encoding without any per-request work beyond header checks.
func (p *Prepared) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", p.ContentType)
	h.Set("Cache-Control", p.CacheControl)
	body, etag := p.Body, p.ETag
	if p.Gzip != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = p.Gzip, p.GzipETag
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	if p.Status == http.StatusOK && etagMatch(r.Header.Get("If-None-Match"), p.ETag, p.GzipETag) {
		h.Del("Content-Type")
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// acceptsGzip parses Accept-Encoding just enough: gzip present and not q=0.
func acceptsGzip(ae string) bool {
	for part := range strings.SplitSeq(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.TrimSpace(name) != "*" {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

func etagMatch(header string, tags ...string) bool {
	if header == "" {
		return false
	}
	if strings.TrimSpace(header) == "*" {
		return true
	}
	for part := range strings.SplitSeq(header, ",") {
		v := strings.TrimPrefix(strings.TrimSpace(part), "W/")
		for _, t := range tags {
			if t != "" && v == t {
				return true
			}
		}
	}
	return false
}
