package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/capability"
)

// curlCmd is one curl command as a doc shows it.
type curlCmd struct {
	file, line     string
	method, target string
	headers        http.Header
	body           string
	hasBody        bool
}

// docCurls reads the curl commands in a Markdown file's shell blocks,
// with continued lines joined and $OUTPOST_ADMIN_TOKEN set to token.
func docCurls(t *testing.T, path, token string) []curlCmd {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []curlCmd
	inBlock, cont := false, ""
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock && (line == "```sh" || line == "```bash" || line == "```shell")
			continue
		}
		if !inBlock {
			continue
		}
		if c, ok := strings.CutSuffix(line, "\\"); ok {
			cont += c + " "
			continue
		}
		line, cont = cont+line, ""
		words := shellWords(t, strings.ReplaceAll(line, "$OUTPOST_ADMIN_TOKEN", token))
		if len(words) == 0 || words[0] != "curl" {
			continue
		}
		out = append(out, parseCurl(filepath.Base(path), line, words[1:]))
	}
	return out
}

func parseCurl(file, line string, args []string) curlCmd {
	c := curlCmd{file: file, line: line, headers: http.Header{}}
	for i := 0; i < len(args); i++ {
		next := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch a := args[i]; {
		case a == "-X":
			c.method = next()
		case a == "-H":
			k, v, _ := strings.Cut(next(), ":")
			c.headers.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		case a == "-d" || a == "--data" || a == "--data-raw":
			c.body, c.hasBody = next(), true
		case strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://"):
			c.target = a
		}
	}
	if c.method == "" {
		c.method = http.MethodGet
		if c.hasBody {
			c.method = http.MethodPost
		}
	}
	if c.hasBody && c.headers.Get("Content-Type") == "" {
		// what curl sends with -d and no type of its own
		c.headers.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return c
}

// shellWords splits a line as sh would for the quoting docs use: single
// and double quotes, and a # comment after a space.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '\'' || ch == '"':
			end := strings.IndexByte(s[i+1:], ch)
			if end < 0 {
				t.Fatalf("unbalanced quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case ch == ' ' || ch == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '#' && !inWord:
			return words
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// The site key rotation commands in docs/operations.md work as written,
// run against the real handler: the routine one and the one for a leaked
// key, after which no link signed before it verifies.
func TestDocumentedKeyRotationWorks(t *testing.T) {
	s, st := subscriptionServer(t, 5)
	h := s.Handler()
	k1 := seedSiteKey(t, st, time.Now().Add(-time.Hour))
	old, _ := capability.Sign(k1, "sub_a", capability.Unsubscribe, time.Time{})
	ran := 0
	for _, c := range docCurls(t, filepath.Join("..", "..", "docs", "operations.md"), writeToken) {
		u, err := url.Parse(c.target)
		if err != nil || u.Path != "/api/v1/keys/rotate" {
			continue
		}
		req := httptest.NewRequest(c.method, u.Path, strings.NewReader(c.body))
		req.Header = c.headers
		req.RemoteAddr = "198.51.100.21:40000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %q answers %d %s", c.file, c.line, rec.Code, rec.Body)
		}
		ran++
	}
	if ran != 2 {
		t.Fatalf("ran %d rotation commands from docs/operations.md, want 2 (routine, leaked)", ran)
	}
	keys, _ := st.SiteKeys()
	if _, err := capability.Verify(keys, old, capability.Unsubscribe, time.Now()); !errors.Is(err, capability.ErrBadSignature) {
		t.Fatalf("a k1 link verifies after the documented leaked-key rotation: %v", err)
	}
}

// Every documented curl that sends a JSON body to the API says it is
// JSON: without the header curl sends a form type, which the API refuses
// with 415.
func TestDocumentedJSONCurlsSendJSON(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs (%v)", err)
	}
	files = append(files, filepath.Join("..", "..", "README.md"))
	for _, f := range files {
		for _, c := range docCurls(t, f, writeToken) {
			if strings.HasPrefix(strings.TrimSpace(c.body), "{") && c.headers.Get("Content-Type") != "application/json" {
				t.Errorf("%s: %q sends JSON as %q", c.file, c.line, c.headers.Get("Content-Type"))
			}
		}
	}
}
