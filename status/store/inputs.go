package store

import (
	"errors"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// Inputs is what happened: probe runs' results and people's commands. The
// log carries these, never the engine's output: the applier (the engine
// inside apply, status/machine) turns them into a Step, so every applier
// of the same entries reaches the same state, ids and announcements, and
// no writer's view of the state travels with its entry.
type Inputs struct {
	Results  []Input          `json:"results,omitempty"`
	Commands []status.Command `json:"commands,omitempty"`
	// Model is the writer's model (status.Fingerprint) in a cluster:
	// inputs judged under another model than the one in force are
	// refused (model.go). Empty on a single node.
	Model string `json:"model,omitempty"`
	// Writer and Seq key the entry in a cluster: the writer (its node id
	// and its process's start) numbers its entries, and sends the same
	// entry under the same key again when it could not learn whether the
	// first one committed. An entry at or below its writer's last applied
	// Seq is skipped, alike everywhere: results are never counted twice.
	Writer string `json:"writer,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
}

// Input is one probe run's result as the log carries it: which node ran
// it and from where (one of each on a single node), when it finished and
// what it found. Its details stay with the run; a browser check's
// screenshot stays on the node that took it (Screenshot says there is
// one), so no blob enters the log.
type Input struct {
	Check      string         `json:"check"`
	Node       string         `json:"node,omitempty"`
	Location   string         `json:"location,omitempty"`
	At         time.Time      `json:"at"`
	Outcome    probes.Outcome `json:"outcome"`
	Reason     probes.Reason  `json:"reason"`
	Latency    time.Duration  `json:"latency"`
	Message    string         `json:"message,omitempty"`
	Screenshot bool           `json:"screenshot,omitempty"`
}

// NewInputs describes results and commands for the log, each result as
// run by node at location.
func NewInputs(results []status.CheckResult, cmds []status.Command, node, location string) *Inputs {
	in := &Inputs{Commands: cmds}
	if len(results) > 0 {
		in.Results = make([]Input, len(results))
	}
	for i, r := range results {
		in.Results[i] = inputOf(r)
		in.Results[i].Node, in.Results[i].Location, in.Results[i].Screenshot = node, location, len(r.Result.Screenshot) > 0
	}
	return in
}

// AsBatch is the engine's step over these inputs at time at.
func (in *Inputs) AsBatch(at time.Time) status.Batch {
	b := status.Batch{Now: at, Commands: in.Commands}
	if len(in.Results) > 0 {
		b.Results = make([]status.CheckResult, len(in.Results))
	}
	for i, r := range in.Results {
		b.Results[i] = status.CheckResult{Check: r.Check, At: r.At, Result: r.result(), Location: r.Location}
	}
	return b
}

// inputOf is a run's result as the log carries it and a step keeps it
// raw (its details are not kept).
func inputOf(r status.CheckResult) Input {
	return Input{Check: r.Check, Location: r.Location, At: r.At, Outcome: r.Result.Outcome, Reason: r.Result.Reason, Latency: r.Result.Latency, Message: r.Result.Message}
}

func (r Input) result() probes.Result {
	return probes.Result{Outcome: r.Outcome, Reason: r.Reason, Latency: r.Latency, Message: r.Message}
}

// ErrNeedsEngine: an entry with inputs reached the store without the step
// the engine makes of them (Entry.Step). It is the caller's mistake (the
// store was used as the log where the machine must be), so it is no
// refusal: nothing is written, and a replicated applier halts.
var ErrNeedsEngine = errors.New("an entry with inputs needs the engine to apply it (status/machine)")
