package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// decodeJSON decodes one JSON object strictly: unknown fields, duplicate
// keys (which encoding/json would silently resolve to the last) and
// anything after the object are errors that say so.
func decodeJSON(body []byte, v any) error {
	if err := noDuplicateKeys(body); err != nil {
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

// noDuplicateKeys walks the document's tokens and refuses an object that
// names a key twice, naming the key's path.
func noDuplicateKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return nil // malformed: the decoder's own error will say so
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
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
				if err := walk(p); err != nil {
					return err
				}
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			_, _ = dec.Token()
		}
		return nil
	}
	return walk("")
}
