package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// maxDrain is how much of an oversized body is read and thrown away before
// answering: closing a connection with unread data makes the kernel send a
// reset, and the client sees that instead of the answer.
const maxDrain = 8 << 20

// readBody reads a request body of at most max bytes, whatever
// Content-Length says (or does not say). An oversized body is drained
// (within maxDrain) and refused with a JSON 400 the client can read.
func readBody(c echo.Context, max int) ([]byte, error) {
	if err := jsonType(c.Request().Header.Get("Content-Type")); err != nil {
		_, _ = io.CopyN(io.Discard, c.Request().Body, maxDrain)
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, int64(max)+1))
	if err != nil {
		return nil, fieldError("", "the body could not be read: %v", err)
	}
	if len(body) > max {
		_, _ = io.CopyN(io.Discard, c.Request().Body, maxDrain)
		return nil, fieldError("", "the body must be a JSON object of at most %d KiB", max>>10)
	}
	return body, nil
}

// jsonType refuses a body that does not say it is JSON in UTF-8. A
// browser sends text/plain, a form's types or no type at all across
// origins without asking first (a CORS "simple request"), so a page
// elsewhere could make its visitors' browsers write here; application/json
// needs a preflight, which the API does not grant for writes.
func jsonType(header string) error {
	mt, params, err := mime.ParseMediaType(header)
	if err == nil && mt == "application/json" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	return echo.NewHTTPError(http.StatusUnsupportedMediaType, "the body must be JSON, sent with Content-Type: application/json (charset, if any, utf-8)")
}

// decodeJSON decodes one JSON object strictly: unknown fields, keys that
// differ from a field's name only in case, duplicate keys (which
// encoding/json would silently resolve to the last) and anything after
// the object are errors that say so.
func decodeJSON(body []byte, v any) error {
	if err := checkKeys(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			return fieldError(typeErr.Field, "%s must be %s", typeErr.Field, kindOf(typeErr.Type))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return fieldError(f, "unknown field %q", f)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return fieldError("", "the body must be a JSON object")
		}
		return fieldError("", "invalid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fieldError("", "unexpected data after the JSON object")
	}
	return nil
}

// kindOf names a Go type the way an API user knows it.
func kindOf(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[apiTime]():
		return "an RFC 3339 time, like 2026-12-01T02:00:00Z"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Slice:
		return "an array"
	case t.Kind() == reflect.Map, t.Kind() == reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}

// apiTime is a time in a request body: RFC 3339, and a mistake is an
// error naming the field (encoding/json would say "parsing time ... as
// 2006-01-02T15:04:05Z07:00", which is Go's, not the user's, language).
type apiTime struct{ time.Time }

func (t *apiTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if v, err := time.Parse(time.RFC3339, s); err == nil {
			t.Time = v
			return nil
		}
	}
	if string(b) == "null" {
		return nil
	}
	return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[apiTime]()}
}

// checkKeys walks the document's tokens alongside the type it decodes
// into and refuses an object that names a key twice, or a key that is not
// exactly one of its struct's json names: encoding/json matches names
// case-insensitively, so {"name":"a","NAME":"b"} would pass its own
// unknown-field check and decode to "b". Errors name the key's path.
func checkKeys(body []byte, t reflect.Type) error {
	w := keyWalker{dec: json.NewDecoder(bytes.NewReader(body))}
	return w.value("", t)
}

type keyWalker struct{ dec *json.Decoder }

// value checks the next value, decoded into t (nil: anything goes, as in
// a map's values of any type or a type that decodes itself).
func (w keyWalker) value(path string, t reflect.Type) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		t = nil
	}
	tok, err := w.dec.Token()
	if err != nil {
		return nil // malformed: the decoder's own error will say so
	}
	switch tok {
	case json.Delim('{'):
		return w.object(path, t)
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(fmt.Sprintf("%s[%d]", path, i), elem); err != nil {
				return err
			}
		}
		_, _ = w.dec.Token()
	}
	return nil
}

func (w keyWalker) object(path string, t reflect.Type) error {
	var fields map[string]reflect.Type // nil: keys are free (a map, or anything)
	var elem reflect.Type
	switch {
	case t != nil && t.Kind() == reflect.Struct:
		fields = jsonFields(t)
	case t != nil && t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	seen := map[string]bool{}
	for w.dec.More() {
		kt, err := w.dec.Token()
		if err != nil {
			return nil
		}
		k, _ := kt.(string)
		p := k
		if path != "" {
			p = path + "." + k
		}
		if seen[k] {
			return fieldError(p, "duplicate key %q", p)
		}
		seen[k] = true
		if fields != nil {
			ft, ok := fields[k]
			if !ok {
				return fieldError(p, "unknown field %q", p)
			}
			elem = ft
		}
		if err := w.value(p, elem); err != nil {
			return err
		}
	}
	_, _ = w.dec.Token()
	return nil
}

// jsonFields maps a struct's exact json names to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous && f.Type.Kind() == reflect.Struct {
			continue // an embedded struct's own fields are listed too
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
