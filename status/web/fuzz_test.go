package web

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

var unsafeHTML = regexp.MustCompile(`<script|<iframe|<object|<embed|<[a-z][^>]*\son[a-z]+\s*=|(href|src)\s*=\s*["']?\s*((java|vb)script:|data:text)`)

// FuzzMarkdown: postmortems are rendered without raw HTML, scripts or
// javascript: links, whatever the author writes.
func FuzzMarkdown(f *testing.F) {
	f.Add("# Root cause\n\n<script>alert(1)</script> [x](javascript:alert(1))")
	f.Add("<img src=x onerror=alert(1)>")
	f.Add("[a](JaVaScRiPt:alert(1)) ![b](data:text/html;base64,PHNjcmlwdD4=)")
	f.Add("```\n</pre><script>\n```")
	f.Fuzz(func(t *testing.T, src string) {
		out := strings.ToLower(string(markdown(src)))
		// Text may say anything ("javascript:" is harmless as text); what
		// must not appear is markup that runs it.
		if unsafeHTML.MatchString(out) {
			t.Fatalf("%q rendered %q", src, out)
		}
	})
}

// FuzzCalendar: whatever a maintenance window is called or says, the
// calendar's lines are CRLF-terminated, at most 75 octets, and carry no
// property the text injected.
func FuzzCalendar(f *testing.F) {
	f.Add("DB upgrade", "Writes pause; reads continue.")
	f.Add("x\rX-INJECTED:1", "y\r\nATTENDEE:mailto:a@b")
	f.Add(strings.Repeat("é", 100), "\\n\\;,")
	s, _ := testServer(f)
	start := time.Date(2026, 3, 12, 14, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, name, msg string) {
		snap := &status.Snapshot{GeneratedAt: start.Add(-time.Hour), Upcoming: []status.UpcomingMaintenance{{ID: "mnt-w-1", WindowID: "w",
			Name: name, Message: msg, Start: start, End: start.Add(time.Hour), Published: start.Add(-24 * time.Hour)}}}
		cal := string(s.ics(snap))
		if !strings.HasSuffix(cal, "\r\n") {
			t.Fatal("not CRLF-terminated")
		}
		props := 0
		for _, l := range strings.Split(strings.TrimSuffix(cal, "\r\n"), "\r\n") {
			if len(l) > 75 || strings.ContainsAny(l, "\r\n") {
				t.Fatalf("bad line %q", l)
			}
			if !strings.HasPrefix(l, " ") {
				props++
			}
		}
		if props != 19 { // 7 calendar lines, 12 of the event
			t.Fatalf("%d property lines, want 19: text injected properties?\n%s", props, cal)
		}
	})
}
