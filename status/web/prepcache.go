package web

import (
	"bytes"
	"sync"
	"sync/atomic"
)

// prepCache keeps each route's prepared response across renders: a body
// that did not change keeps its gzip and ETag (no compression, no hash),
// and a response built from inputs that did not change (a badge) is not
// even built again. gzip writers are pooled: a fresh one allocates about
// a quarter of a megabyte.
type prepCache struct {
	mu  sync.Mutex
	m   map[string]*cached
	gen uint64
	// keepEverything: this render forgets nothing (keepAll).
	keepEverything bool
	zips           sync.Pool
	builds         atomic.Uint64 // responses compressed and hashed anew
}

type cached struct {
	p      *Prepared
	inputs string // what a built-from-inputs response was made of
	gen    uint64 // the render that last used it
}

func newPrepCache() *prepCache { return &prepCache{m: map[string]*cached{}} }

// begin starts a render; end forgets what that render did not use.
func (c *prepCache) begin() {
	c.mu.Lock()
	c.gen++
	c.mu.Unlock()
}

func (c *prepCache) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keepEverything {
		c.keepEverything = false
		return
	}
	for k, e := range c.m {
		if e.gen < c.gen {
			delete(c.m, k)
		}
	}
}

// keep marks key's response as used by this render, though not rebuilt.
func (c *prepCache) keep(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[key]; e != nil {
		e.gen = c.gen
	}
}

// keepAll keeps, at this render's end, everything the cache holds: the
// render reuses the served site's read surfaces whole, so what they use
// is what the last render left (a walk of the cache to mark them was
// 5,500 entries at 5,000 components, at every render that only moved
// freshness).
func (c *prepCache) keepAll() {
	c.mu.Lock()
	c.keepEverything = true
	c.mu.Unlock()
}

// body returns the prepared response for key, reusing the last one when
// the bytes are the same.
func (c *prepCache) body(key string, body []byte, contentType, cacheControl string) *Prepared {
	c.mu.Lock()
	e := c.m[key]
	if e != nil && e.p.ContentType == contentType && e.p.CacheControl == cacheControl && bytes.Equal(e.p.Body, body) {
		e.gen = c.gen
		c.mu.Unlock()
		return e.p
	}
	c.mu.Unlock()
	p := c.prepare(body, contentType, cacheControl)
	c.mu.Lock()
	c.m[key] = &cached{p: p, gen: c.gen}
	c.mu.Unlock()
	return p
}

// built returns the prepared response for key when it was made from the
// same inputs last time; else build makes the body.
func (c *prepCache) built(key, inputs string, build func() []byte, contentType, cacheControl string) *Prepared {
	c.mu.Lock()
	if e := c.m[key]; e != nil && e.inputs == inputs {
		e.gen = c.gen
		c.mu.Unlock()
		return e.p
	}
	c.mu.Unlock()
	// Built responses are badges, SVGs of about a kilobyte: served as they
	// are. Compressing each (25,000 at 5,000 components) took a second of
	// the first render for a few hundred bytes apiece.
	c.builds.Add(1)
	p := prepare(build(), contentType, cacheControl, nil, nil)
	c.mu.Lock()
	c.m[key] = &cached{p: p, inputs: inputs, gen: c.gen}
	c.mu.Unlock()
	return p
}

// prepare is Prepare with a pooled gzip writer and scratch buffer.
func (c *prepCache) prepare(body []byte, contentType, cacheControl string) *Prepared {
	c.builds.Add(1)
	return prepare(body, contentType, cacheControl, func() *zipper {
		if z, _ := c.zips.Get().(*zipper); z != nil {
			return z
		}
		return newZipper()
	}, func(z *zipper) { c.zips.Put(z) })
}
