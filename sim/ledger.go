package sim

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/safepipe/safepipe/gates"
)

// Two-phase ledgers (package twophase). safepipe's Lambda alias controller
// (Custom::SafepipeAlias) keeps one per alias, the SSM parameter its
// Ledger property names, written after each deployment from what the
// alias serves: for each change, the phase all but the share runs (full)
// and the phase of the share (canary). The simulator derives it from the
// stack's traffic: the new version (1) runs the phases its template
// declares (Changes); the version live before the change (0) runs the
// prepare of every change the new release activates (the contract of
// twophase: activation follows a prepared release), except in the regions
// of Options.Unprepared, where a host did not take it.

// aliasLedger is one alias controller's ledger parameter and declared
// changes.
type aliasLedger struct {
	parameter string
	changes   map[string]string
}

func ledgersOf(st *Stack) []aliasLedger {
	if st == nil || st.Template == nil {
		return nil
	}
	var out []aliasLedger
	for _, id := range slices.Sorted(maps.Keys(st.Template.Resources)) {
		r := st.Template.Resources[id]
		if r.Type != "Custom::SafepipeAlias" {
			continue
		}
		p, _ := r.Properties["Ledger"].(string)
		raw, _ := r.Properties["Changes"].(string)
		changes := map[string]string{}
		_ = json.Unmarshal([]byte(raw), &changes) // unreadable: no changes (verify SP030 reports it)
		if p != "" {
			out = append(out, aliasLedger{parameter: p, changes: changes})
		}
	}
	return out
}

// Ledger implements gates.LedgerReader over the simulated stacks.
func (o *observer) Ledger(_ context.Context, p gates.Place, parameter string) (string, bool, error) {
	unprepared := slices.Contains(o.w.opts.Unprepared, p.Region)
	for _, k := range o.w.keys {
		s := o.w.stacks[k]
		if k.Account != p.Account || k.Region != p.Region || s == nil || !s.exists {
			continue
		}
		for _, l := range ledgersOf(s.template) {
			if l.parameter != parameter {
				continue
			}
			phase := func(v int, name string) string {
				if v != 0 {
					if ph, ok := l.changes[name]; ok {
						return ph
					}
					return "none"
				}
				if l.changes[name] == "activate" && !unprepared {
					return "prepare"
				}
				return "none"
			}
			type entry struct {
				Full   string `json:"full"`
				Canary string `json:"canary"`
			}
			doc := struct {
				Changes map[string]entry `json:"changes"`
			}{Changes: map[string]entry{}}
			for _, name := range slices.Sorted(maps.Keys(l.changes)) {
				e := entry{Full: phase(s.cur, name), Canary: "none"}
				if s.w > 0 {
					e.Canary = phase(s.next, name)
				}
				doc.Changes[name] = e
			}
			b, _ := json.Marshal(doc) // plain structs: cannot fail
			return string(b), true, nil
		}
	}
	return "", false, nil
}
