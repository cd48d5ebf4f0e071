package email

import (
	"context"
	"sync/atomic"
	"time"
)

// MaxIdle is how long an idle SMTP session is kept for the next batch.
// Servers end idle sessions on their own (Postfix after 300 s, some
// relays far sooner); a session idle longer is closed instead of reused.
const MaxIdle = 10 * time.Second

// pool holds the transport's SMTP sessions across batches: at most
// Concurrency open at once, whichever batches they serve (every mail
// goes to the one configured server, whatever its recipient's domain),
// and the idle ones kept for the next batch. Before it, each batch opened
// sessions of its own: 1,000 mails in batches of one domain's few mails
// took 600 sessions, and batches in flight together opened more than
// Concurrency at once.
type pool struct {
	open chan struct{} // one token per open session, idle or busy
	idle chan *session // as many places as tokens: put never blocks
	shut atomic.Bool
}

func newPool(concurrency int) *pool {
	return &pool{open: make(chan struct{}, concurrency), idle: make(chan *session, concurrency)}
}

// get returns an idle session (reused: the server may have closed it
// meanwhile) or a new one, waiting while Concurrency are busy.
func (t *Transport) get(ctx context.Context) (s *session, reused bool, err error) {
	for {
		select { // an idle session first, before opening one
		case s := <-t.pool.idle:
			if t.fresh(ctx, s) {
				return s, true, nil
			}
			continue
		default:
		}
		select {
		case s := <-t.pool.idle:
			if t.fresh(ctx, s) {
				return s, true, nil
			}
		case t.pool.open <- struct{}{}:
			s, err := t.open(ctx)
			if err != nil {
				<-t.pool.open
				return nil, false, err
			}
			return s, false, nil
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// fresh binds an idle session to ctx, or closes it when it has been idle
// past MaxIdle.
func (t *Transport) fresh(ctx context.Context, s *session) bool {
	if time.Since(s.idleSince) > MaxIdle {
		t.pool.discard(s)
		return false
	}
	s.conn.bind(ctx)
	return true
}

// put keeps a healthy session for the next batch (or closes it once the
// transport is closed).
func (t *Transport) put(s *session) {
	if t.pool.shut.Load() {
		t.pool.discard(s)
		return
	}
	s.conn.unbind()
	s.idleSince = time.Now()
	t.pool.idle <- s
}

// discard closes a session and frees its place.
func (p *pool) discard(s *session) {
	s.close()
	<-p.open
}

// flushIdle closes every idle session: one was found closed by the
// server, and the others have likely been idle as long.
func (p *pool) flushIdle() {
	for {
		select {
		case s := <-p.idle:
			p.discard(s)
		default:
			return
		}
	}
}

// Close ends the idle sessions politely (QUIT); sessions in use are
// closed when their batch ends. Sending after Close still works, each
// session closed after its batch.
func (t *Transport) Close() {
	t.pool.shut.Store(true)
	t.pool.flushIdle()
}
