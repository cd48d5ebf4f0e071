// Package static embeds the page's assets and serves them under
// content-hashed names, so they can be cached for a year.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"path"
	"strings"
)

//go:embed *.css *.js *.svg
var files embed.FS

// Asset is one embedded file with its hashed URL path.
type Asset struct {
	Name        string // "style.css"
	Path        string // "/static/style.3f2a9c1b.css"
	ContentType string
	Body        []byte
}

// Assets reads every embedded file once and names it by content hash.
func Assets() (map[string]*Asset, error) {
	out := map[string]*Asset{}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(p)
		hashed := strings.TrimSuffix(p, ext) + "." + hex.EncodeToString(sum[:])[:12] + ext
		ct := contentType(ext)
		out[p] = &Asset{Name: p, Path: "/static/" + hashed, ContentType: ct, Body: body}
		return nil
	})
	return out, err
}

// contentType is the type of an embedded file by its extension, as Go's
// own table names it. mime.TypeByExtension would load the host's MIME
// databases at its first call (about 430 KB kept for the process's life,
// and types that differ from host to host) to name three kinds.
func contentType(ext string) string {
	switch ext {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

//go:embed openapi.yaml
var openapi []byte

// OpenAPI is the HTTP API's contract (OpenAPI 3.1, YAML): written for
// people, served as JSON at /api/openapi.json, and checked against real
// responses in the tests.
func OpenAPI() []byte { return openapi }
