package web

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
)

// File is one exported file.
type File struct {
	Path string // relative, slash-separated: "incidents/inc-3/index.html"
	Body []byte
}

// exportPath maps a URL path to the file a static host serves for it.
func exportPath(urlPath string) string {
	p := strings.TrimPrefix(urlPath, "/")
	switch {
	case p == "":
		return "index.html"
	case strings.HasPrefix(p, "badge/") && strings.Contains(p, "?window="):
		base, w, _ := strings.Cut(p, "?window=")
		return strings.TrimSuffix(base, ".svg") + "-" + w + ".svg" // badge/api/uptime-7d.svg
	case p == "api/v1/status":
		return "api/v1/status.json"
	case filepath.Ext(p) == "":
		return p + "/index.html" // pages: /incidents/inc-3, /history/2
	}
	return p
}

// Files renders the complete public site for snap: pages, every incident,
// every history page, APIs, feeds, badges and assets.
func (s *Server) Files(snap *status.Snapshot) ([]File, error) {
	// Use what is being served when it is this snapshot; otherwise render
	// aside, never replacing the live site with an older snapshot.
	cur := s.current.Load()
	if cur == nil || cur.snap != snap {
		var err error
		if cur, err = s.render(snap, newPrepCache(), false); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	var out []File
	add := func(urlPath string, body []byte) {
		p := exportPath(urlPath)
		if !seen[p] {
			seen[p] = true
			out = append(out, File{Path: p, Body: body})
		}
	}
	for path, p := range cur.all() {
		add(path, p.Body)
		if strings.HasSuffix(path, "uptime.svg?window=30d") { // the default window
			add(strings.TrimSuffix(path, "?window=30d"), p.Body)
		}
	}
	for path, p := range s.assets {
		add(path, p.Body)
	}
	names := statuspage.ComponentNames(snap)
	all, err := s.o.Store.Incidents(1<<30, nil, nil)
	if err != nil {
		return nil, err
	}
	oldest := snap.GeneratedAt
	for _, inc := range all {
		b, err := s.r.incident(inc, names)
		if err != nil {
			return nil, err
		}
		add("/incidents/"+inc.ID, b)
		if inc.StartedAt.Before(oldest) {
			oldest = inc.StartedAt
		}
	}
	// Upcoming occurrences of configured windows are in no store, yet the
	// page links them: their pages are the ones served.
	for _, u := range snap.Upcoming {
		if p, ok := cur.incidents[u.ID]; ok {
			add("/incidents/"+u.ID, p.Body)
		}
	}
	// History pages down to the page holding the oldest incident.
	months := (snap.GeneratedAt.Year()-oldest.Year())*12 + int(snap.GeneratedAt.Month()-oldest.Month())
	for n := 1; n <= months/monthsPerPage+1; n++ {
		b, err := s.renderHistory(snap, n)
		if err != nil {
			return nil, err
		}
		if n == 1 {
			add("/history", b)
		}
		add("/history/"+strconv.Itoa(n), b)
	}
	add("/404.html", s.notFound.Body)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// WriteTar streams files as a tar archive (for `outpost export` against a
// running Outpost).
func WriteTar(w io.Writer, files []File, mod time.Time) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.Path, Mode: 0o644, Size: int64(len(f.Body)), ModTime: mod}); err != nil {
			return err
		}
		if _, err := tw.Write(f.Body); err != nil {
			return err
		}
	}
	return tw.Close()
}

// ReadTar reads an archive written by WriteTar, refusing unsafe paths.
func ReadTar(r io.Reader) ([]File, error) {
	tr := tar.NewReader(r)
	var out []File
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if !filepath.IsLocal(h.Name) {
			return nil, fmt.Errorf("unsafe path in export archive: %q", h.Name)
		}
		b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return nil, err
		}
		out = append(out, File{Path: h.Name, Body: b})
	}
}

// Publish writes files as a new version and points the symlink dir at it
// atomically: readers see the old site or the new one, never a mix. dir
// must be a symlink or absent; versions live in dir+".versions", and all
// but the two newest are removed.
func Publish(dir string, files []File) error {
	dir = filepath.Clean(dir)
	if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("export %s: it exists and is not a symlink; remove it or choose a new path", dir)
	}
	root := dir + ".versions"
	ver := filepath.Join(root, strconv.FormatInt(time.Now().UnixNano(), 10))
	for _, f := range files {
		p := filepath.Join(ver, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("export %s: %w", dir, err)
		}
		if err := os.WriteFile(p, f.Body, 0o644); err != nil {
			return fmt.Errorf("export %s: %w", dir, err)
		}
	}
	tmp := dir + ".tmp-link"
	_ = os.Remove(tmp)
	if err := os.Symlink(ver, tmp); err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil { // atomic: replaces the old link
		return fmt.Errorf("export %s: %w", dir, err)
	}
	old, _ := os.ReadDir(root)
	for i := 0; i < len(old)-2; i++ { // names are nanosecond stamps: sorted oldest first
		_ = os.RemoveAll(filepath.Join(root, old[i].Name()))
	}
	return nil
}
