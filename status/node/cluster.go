package node

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outpost-status/outpost/status/cluster"
	"github.com/outpost-status/outpost/status/store"
)

// In a cluster the node's Log is its raft member (status/cluster): every
// part writes through it, and the machine applies what the cluster
// commits. The cluster speaks with one voice: only the leader runs the
// delivery loops, and its start-up entries (the site key, cancelling
// destinations no longer configured) are the leader's too.

// joinCluster makes this node a member, with raft behind the machine.
func (n *Node) joinCluster() error {
	cn, err := cluster.Start(cluster.Options{Config: n.cfg, Machine: n.mach, Store: n.st, Logger: n.log})
	if err != nil {
		return fmt.Errorf("cannot join the cluster: %w", err)
	}
	n.cl, n.changes = cn, cn
	n.clusterFigures()
	return nil
}

// leadershipPoll is how often a member looks whether it is cut off, and
// a leader whether a reload changed its model.
const leadershipPoll = 250 * time.Millisecond

// deliver runs the delivery loops until ctx ends: on a single node all
// along; in a cluster only while this node leads, each term beginning
// once every committed entry is applied here (a barrier) and then as a
// restarted node begins (rows left "sending" reconciled, never blindly
// sent again). Raft's leadership notifications start and stop them at
// once: a deposed leader's loops end within their in-flight sends.
func (n *Node) deliver(ctx context.Context) {
	if n.cl == nil {
		n.runLoops(ctx)
		return
	}
	for n.awaitLeadership(ctx) {
		if err := n.cl.Barrier(10 * time.Second); err != nil {
			n.log.Warn("leading, but the log could not be applied to its end; delivering waits", slog.Any("error", err))
			continue
		}
		n.fence.term.Store(n.cl.Term())
		n.log.Info("this node leads: delivering announcements", slog.Uint64("term", n.fence.term.Load()))
		n.leaderStart()
		term, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { n.runLoops(term); close(done) }()
		n.whileLeading(ctx)
		stop()
		<-done
		if ctx.Err() == nil {
			n.log.Info("this node no longer leads: delivering stopped")
		}
	}
}

// awaitLeadership waits until this node leads: false when ctx ends first.
func (n *Node) awaitLeadership(ctx context.Context) bool {
	for {
		changed := n.cl.LeadershipChanged() // before the look, so no change is missed
		if n.cl.IsLeader() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}

// whileLeading returns as soon as this node no longer leads (or ctx
// ends), keeping the cluster's model this leader's meanwhile.
func (n *Node) whileLeading(ctx context.Context) {
	tick := time.NewTicker(leadershipPoll)
	defer tick.Stop()
	for {
		changed := n.cl.LeadershipChanged()
		if !n.cl.IsLeader() {
			return
		}
		n.putModel()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// runLoops runs the channel, webhook and email delivery loops.
func (n *Node) runLoops(ctx context.Context) {
	var wg sync.WaitGroup
	for _, run := range []func(context.Context){n.disp.Run, n.whRun, n.mailRun} {
		wg.Go(func() { run(ctx) })
	}
	wg.Wait()
}

// putModel makes the leader's model the cluster's (at the start of its
// term, and after a reload changed it): members whose model differs then
// apply nothing until theirs matches, and their inputs are refused.
func (n *Node) putModel() {
	own := n.mach.Fingerprint()
	cur, err := n.st.Model()
	if err != nil || cur == own {
		return
	}
	if _, err := n.changes.Apply(store.Entry{At: n.now(), Model: own}); err != nil {
		n.log.Error("the cluster's model not written", slog.Any("error", err))
		return
	}
	n.log.Info("the cluster's model is this leader's", slog.String("model", own), slog.String("was", cur))
}

// leaderStart writes what a node writes when it starts, once it leads.
func (n *Node) leaderStart() {
	if err := ensureSiteKey(n.st, n.changes, n.now(), n.log); err != nil {
		n.log.Error("site key", slog.Any("error", err))
	}
	if err := n.cancelGone(); err != nil {
		n.log.Error("cancelling destinations no longer configured", slog.Any("error", err))
	}
}

// operators is the operators' listener's handler: web's surfaces, and in
// a cluster /api/v1/cluster, every member's account as this one gathers
// it (what `outpost cluster status` prints).
func (n *Node) operators() http.Handler {
	h := n.srv.OperatorsHandler()
	if n.cl == nil {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /api/v1/cluster", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(n.cl.Status(3 * time.Second))
	})
	return mux
}

// watchIsolation tells the monitor whether this member is cut off from
// the others, so the page says so, and readiness turns false (the public
// /healthz answers 503: load balancers send readers to another member).
func (n *Node) watchIsolation(ctx context.Context) {
	tick := time.NewTicker(leadershipPoll)
	defer tick.Stop()
	for {
		since := n.cl.CutOffSince(n.now())
		if was := n.mon.Isolated(); was.IsZero() != since.IsZero() {
			if since.IsZero() {
				n.log.Info("in touch with the cluster again")
			} else {
				n.log.Warn("cut off from the others: the page says so, /healthz answers 503, nothing is announced from here", slog.Time("since", since))
			}
		}
		n.mon.SetIsolated(since)
		n.mon.SetLagging(n.cl.BehindSince())
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ready is whether readers should be sent here: alive, and in a cluster
// not cut off from the others.
func (n *Node) ready() (bool, string) {
	if ok, reason := n.health(); !ok {
		return false, reason
	}
	if since := n.mon.Isolated(); !since.IsZero() {
		return false, "cut off from the others since " + since.Format(time.RFC3339)
	}
	if n.cl != nil && n.cl.Removed() {
		return false, cluster.ErrRemoved.Error()
	}
	if n.cl != nil {
		if since := n.cl.BehindSince(); !since.IsZero() {
			return false, "behind the cluster since " + since.Format(time.RFC3339)
		}
	}
	return true, ""
}

// claims is the Log the delivery loops write through: in a cluster, one
// that stamps each claim with the term this node leads in.
func (n *Node) claims() store.Log {
	if n.cl == nil {
		return n.changes
	}
	if n.fence == nil {
		n.fence = &fencedLog{Log: n.changes}
	}
	return n.fence
}

// fencedLog stamps claims (channel marks To: Sending, subscribers'
// Sending outcomes) with the term of the leadership they are made under:
// a claim that reaches the log after this node lost its leadership is
// refused (store.ErrDeposed), and as the claim comes before the request,
// nothing more is sent from here. Other entries pass as they are.
type fencedLog struct {
	store.Log
	term atomic.Uint64
}

func (f *fencedLog) Apply(e store.Entry) (store.Result, error) {
	t := f.term.Load()
	if t == 0 {
		return f.Log.Apply(e)
	}
	if len(e.Marks) > 0 {
		e.Marks = slices.Clone(e.Marks)
		for i := range e.Marks {
			if e.Marks[i].To == store.Sending {
				e.Marks[i].Term = t
			}
		}
	}
	if e.Outcomes != nil {
		o := *e.Outcomes
		o.List = slices.Clone(o.List)
		for i := range o.List {
			if o.List[i].Sending {
				o.List[i].Term = t
			}
		}
		e.Outcomes = &o
	}
	return f.Log.Apply(e)
}
