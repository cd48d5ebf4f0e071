package web

import (
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/singleflight"

	"github.com/outpost-status/outpost/status"
)

// pages holds pages rendered on demand (old history pages, old incidents).
// What they show changes only when stored incidents, component names or
// the month change, so they are kept across snapshots while their version
// holds, and each is rendered once however many ask for it at once: old
// pages cannot be used to burn CPU.
type pages struct {
	mu      sync.Mutex
	version string
	done    map[string]*Prepared
	renders atomic.Uint64
	calls   singleflight.Group // one render per page however many ask
}

// maxLazyPages bounds the cache (1,000 history pages and the incidents
// someone asked for); past it, it starts again.
const maxLazyPages = 4000

func newPages() *pages {
	return &pages{done: map[string]*Prepared{}}
}

// setVersion empties the cache when what its pages are built from changed.
func (c *pages) setVersion(v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v != c.version {
		c.version = v
		clear(c.done)
	}
}

// get returns the page for key, rendering it once.
func (c *pages) get(key string, render func() ([]byte, error)) (*Prepared, error) {
	c.mu.Lock()
	p, ok := c.done[key]
	version := c.version
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	v, err, _ := c.calls.Do(key, func() (any, error) {
		// A call that finished between the look above and Do has stored it.
		c.mu.Lock()
		p, ok := c.done[key]
		c.mu.Unlock()
		if ok {
			return p, nil
		}
		b, err := render()
		c.renders.Add(1)
		if err != nil {
			return nil, err
		}
		p = Prepare(b, "text/html; charset=utf-8", CachePage)
		c.mu.Lock()
		if version == c.version { // not from before a change
			if len(c.done) >= maxLazyPages {
				clear(c.done)
			}
			c.done[key] = p
		}
		c.mu.Unlock()
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Prepared), nil
}

// pagesVersion names what on-demand pages depend on: the stored
// incidents' version, the month (history pages are months), and the
// components' names.
func pagesVersion(incidents uint64, snap *status.Snapshot, month string) string {
	h := fnv.New64a()
	for _, c := range snap.Components { // per render: no formatting
		h.Write([]byte(c.ID))
		h.Write([]byte{0})
		h.Write([]byte(c.Name))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%d/%s/%x", incidents, month, h.Sum64())
}
