package twophase

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// ChangePhase is where a two-phase change stands in a release.
type ChangePhase string

// The phases of a two-phase change (seed 001, "Ensuring rollback safety
// during deployments"): prepare teaches every reader the new form while
// writers keep the old; activate switches the writers. Each is safe to roll
// back alone; together in one release they are not.
const (
	// ChangePrepare: this release reads the old and the new form and
	// writes the old.
	ChangePrepare ChangePhase = "prepare"
	// ChangeActivate: this release writes the new form (and still reads
	// both). It may serve traffic in a region only once the prepare
	// release serves all of that region's traffic, and the pipeline
	// starts it only once every production region is prepared.
	ChangeActivate ChangePhase = "activate"
)

// Change is a change that is not rollback-safe in one step (a data format,
// a protocol, a schema) declared in two phases. The same value goes to the
// deployment that ships the code (deploy.LambdaProps.Changes) and to the
// pipeline (pipeline.SafetyGates.Changes): one contract, not a name typed
// twice.
type Change struct {
	// Name is the change ("order-record-v2"). Required.
	Name string
	// Phase is this release's phase. Required.
	Phase ChangePhase
}

// LedgerPrefix is the path of every ledger parameter.
const LedgerPrefix = "/safepipe/two-phase/"

// LedgerParameter is the SSM parameter of a ledger.
func LedgerParameter(ledger string) string { return LedgerPrefix + ledger }

// NameRE is what a change name may be.
var NameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Validate reports every problem of a release's changes at once, naming
// them under field.
func Validate(field string, cs []Change) error {
	var errs []error
	seen := map[string]bool{}
	for i, c := range cs {
		at := fmt.Sprintf("%s[%d]", field, i)
		if !NameRE.MatchString(c.Name) {
			errs = append(errs, fmt.Errorf("%s.Name %q is not a change name (%s)", at, c.Name, NameRE))
		}
		if c.Phase != ChangePrepare && c.Phase != ChangeActivate {
			errs = append(errs, fmt.Errorf("%s.Phase is %q; it is %q or %q", at, c.Phase, ChangePrepare, ChangeActivate))
		}
		if seen[c.Name] {
			errs = append(errs, fmt.Errorf("%s.Name %q appears twice: a release prepares or activates a change, never both (activate in the next release, once every production target is prepared)", at, c.Name))
		}
		seen[c.Name] = true
	}
	return errors.Join(errs...)
}

// LedgerRE is what a ledger name may be: an SSM parameter path below
// LedgerPrefix.
var LedgerRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127})?$`)

// Property is the changes as the alias controller reads them:
// {"name": "phase"}, sorted by name (encoding/json sorts map keys).
func Property(cs []Change) string {
	m := map[string]string{}
	for _, c := range cs {
		m[c.Name] = string(c.Phase)
	}
	b, _ := json.Marshal(m) // strings only: cannot fail
	return string(b)
}
