package status

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Fingerprint names what a model makes of the same inputs: two engines
// with the same fingerprint reach the same state from the same entries.
// Every member of a cluster applies every entry with its own model, so
// the members' models must agree; the fingerprint is how they tell. It
// covers everything the engine reads from the model, in a fixed encoding
// (a recurring window by its next firings after a fixed instant: its
// schedule's value holds pointers, whose printing differs per process).
func Fingerprint(m *Model) string {
	type window struct {
		ID, Name, Message string
		Components        []string
		Start, End        time.Time
		Firings           []time.Time
		Duration          time.Duration
	}
	doc := struct {
		SiteTitle, Location   string
		Components            []ComponentDef
		Checks                []checkDoc
		AutoIncidents         bool
		ReopenWindow          time.Duration
		Maintenance           []window
		StaleAfter            int
		ConnectivityThreshold float64
		Locations             []string
		Voting                Voting
	}{SiteTitle: m.SiteTitle, Components: m.Components, Checks: checkDocs(m.Checks), AutoIncidents: m.AutoIncidents,
		ReopenWindow: m.ReopenWindow, StaleAfter: m.StaleAfter, ConnectivityThreshold: m.ConnectivityThreshold,
		Locations: m.Locations, Voting: m.Voting}
	if m.Location != nil {
		doc.Location = m.Location.String()
	}
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, w := range m.Maintenance {
		x := window{ID: w.ID, Name: w.Name, Message: w.Message, Components: w.Components, Start: w.Start, End: w.End, Duration: w.Duration}
		if w.Schedule != nil {
			at := epoch
			for range 3 {
				at = w.Schedule.Next(at)
				x.Firings = append(x.Firings, at)
			}
		}
		doc.Maintenance = append(doc.Maintenance, x)
	}
	b, err := json.Marshal(doc)
	if err != nil { // plain data: cannot happen
		panic(fmt.Sprintf("fingerprint: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// checkDoc is a CheckDef as the fingerprint encodes it: its own list of
// fields, in the order every earlier Outpost encoded them, so that moving a field of
// CheckDef (to pack it) does not change every cluster's fingerprint, and
// a rolling upgrade's members still agree (TestFingerprintIsPinned).
type checkDoc struct {
	Name, Component                    string
	FailureThreshold, SuccessThreshold int
	RecheckInterval, Every             time.Duration
	Canary, Warning                    bool
	Locations                          []string
	Vote                               VoteRule
	Push                               bool
	Host                               string
}

func checkDocs(cs []CheckDef) []checkDoc {
	if cs == nil {
		return nil // encoded null, as a model without checks always was
	}
	out := make([]checkDoc, len(cs))
	for i, c := range cs {
		out[i] = checkDoc{Name: c.Name, Component: c.Component, FailureThreshold: c.FailureThreshold,
			SuccessThreshold: c.SuccessThreshold, RecheckInterval: c.RecheckInterval, Every: c.Every,
			Canary: c.Canary, Warning: c.Warning, Locations: c.Locations, Vote: c.Vote, Push: c.Push, Host: c.Host}
	}
	return out
}
