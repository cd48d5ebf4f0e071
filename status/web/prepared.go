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

	// Header values built once, so serving allocates nothing for them.
	hType, hCache, hETag, hGzETag, hLen, hGzLen []string
}

// Prepare compresses body once and computes its validators.
func Prepare(body []byte, contentType, cacheControl string) *Prepared {
	return prepare(body, contentType, cacheControl, newZipper, func(*zipper) {})
}

func newZipper() *zipper {
	z := &zipper{}
	z.w, _ = gzip.NewWriterLevel(&z.buf, gzip.DefaultCompression)
	return z
}

// zipper is a gzip writer with the scratch buffer it compresses into: the
// gzip kept is copied out at its size, as a site's bodies compress 20 to
// 80 times and an array sized for the body (a third of it) was mostly
// never written (2.3 MB kept for the 90 KB gzip of a 7 MB page).
type zipper struct {
	w   *gzip.Writer
	buf bytes.Buffer
}

// prepare is Prepare with the zipper taken from get and handed back to
// put (a pool, for the renders' many responses); get nil: no gzip.
func prepare(body []byte, contentType, cacheControl string, get func() *zipper, put func(*zipper)) *Prepared {
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:16])
	p := &Prepared{Body: body, ETag: `"` + tag + `"`, ContentType: contentType, CacheControl: cacheControl, Status: http.StatusOK}
	if len(body) >= minGzipSize && get != nil {
		z := get()
		z.buf.Reset()
		z.w.Reset(&z.buf)
		_, _ = z.w.Write(body)
		_ = z.w.Close()
		p.Gzip = bytes.Clone(z.buf.Bytes())
		put(z)
		p.GzipETag = `"` + tag + `-gz"`
	}
	p.hType, p.hCache, p.hETag, p.hGzETag = []string{contentType}, []string{cacheControl}, []string{p.ETag}, []string{p.GzipETag}
	p.hLen, p.hGzLen = []string{strconv.Itoa(len(p.Body))}, []string{strconv.Itoa(len(p.Gzip))}
	return p
}

// Pre-built header values shared by every response.
var (
	hVary = []string{"Accept-Encoding"}
	hGzip = []string{"gzip"}
)

// ServeHTTP writes the prepared response, honouring If-None-Match and
// Accept-Encoding without any per-request work beyond header checks.
//
// Keys are assigned in canonical form directly: Header.Set would
// canonicalize and allocate on every request of an outage-day surge.
func (p *Prepared) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Cache-Control"] = p.hCache
	body, etag, length := p.Body, p.hETag, p.hLen
	if p.Gzip != nil {
		h["Vary"] = hVary
		if acceptsGzip(first(r.Header, "Accept-Encoding")) {
			body, etag, length = p.Gzip, p.hGzETag, p.hGzLen
			h["Content-Encoding"] = hGzip
		}
	}
	h["Etag"] = etag
	if p.Status == http.StatusOK && etagMatch(first(r.Header, "If-None-Match"), p.ETag, p.GzipETag) {
		delete(h, "Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = p.hType
	h["Content-Length"] = length
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// first is h.Get(key) for a key in canonical form, as net/http stores a
// request's: Get canonicalizes key on every call, a tenth of serving a
// prepared response (BenchmarkServe).
func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
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
