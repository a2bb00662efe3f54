package verify

import (
	"encoding/json"
	"strings"

	"github.com/safepipe/safepipe/model"
)

// The alias controller of safepipe (constructs/deploy) declares the
// two-phase changes a release carries on its resource, type
// Custom::SafepipeAlias: Ledger (the SSM parameter of the alias's ledger)
// and Changes, {"change": "prepare" | "activate"} (package twophase).
const aliasControllerType = "Custom::SafepipeAlias"

// twoPhase reports a change that one assembly (one release) both prepares
// and activates, in any two of its alias controllers with one ledger.
func (c *checker) twoPhase(templates []*Template) {
	type where struct{ template, resource string }
	phases := map[string]map[string]where{} // ledger + change → phase → first place
	var keys []string
	for _, t := range templates {
		for _, id := range sortedKeys(t.Resources) {
			r := t.Resources[id]
			if r.Type != aliasControllerType {
				continue
			}
			raw := model.Flatten(r.Properties["Changes"])
			if raw == "" {
				continue
			}
			var changes map[string]string
			if err := json.Unmarshal([]byte(raw), &changes); err != nil {
				c.add(RuleTwoPhase, Finding{Template: t.Path, Resource: id, Region: t.Region}, "alias controller %s declares changes verify cannot read (%v): %q", id, err, raw)
				continue
			}
			ledger := model.Flatten(r.Properties["Ledger"])
			for _, name := range sortedKeys(changes) {
				k := ledger + "\x00" + name
				if phases[k] == nil {
					phases[k] = map[string]where{}
					keys = append(keys, k)
				}
				if _, seen := phases[k][changes[name]]; !seen {
					phases[k][changes[name]] = where{t.Path, id}
				}
			}
		}
	}
	for _, k := range keys {
		p, okP := phases[k]["prepare"]
		a, okA := phases[k]["activate"]
		if !okP || !okA {
			continue
		}
		ledger, name, _ := strings.Cut(k, "\x00")
		c.add(RuleTwoPhase, Finding{Template: a.template, Resource: a.resource},
			"change %q of ledger %s is prepared (%s, %s) and activated (%s, %s) by one release", Escape(name), Escape(ledger), p.template, p.resource, a.template, a.resource)
	}
}

// downgrades reports whether a stage's templates roll a Lambda alias back
// to the version live before the test (safepipe's alias controller in
// mode downgrade or downgrade-half).
func downgrades(r stageRole) bool {
	for _, t := range r.targets {
		if t.tpl == nil {
			continue
		}
		for _, id := range sortedKeys(t.tpl.Resources) {
			res := t.tpl.Resources[id]
			if m := model.Flatten(res.Properties["Mode"]); res.Type == aliasControllerType && (m == "downgrade" || m == "downgrade-half") {
				return true
			}
		}
	}
	return false
}
