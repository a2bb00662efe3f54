package gates

import (
	"github.com/safepipe/safepipe/internal/strictjson"
)

// Ledger is a two-phase ledger as the alias controller writes it
// (constructs/deploy): for each change, the phase of the version serving
// all of the alias's traffic (Full) and of the share (Canary).
type Ledger struct {
	Changes map[string]LedgerEntry `json:"changes"`
	// Alias, Main and At say which alias, which version and when;
	// Function and Code which function (its unqualified ARN) and which
	// code (Main's CodeSha256) the ledger describes, so that a ledger that
	// outlived its function can be told (the alias controller does).
	Alias    string `json:"alias,omitempty"`
	Main     string `json:"main,omitempty"`
	Function string `json:"function,omitempty"`
	Code     string `json:"code,omitempty"`
	At       string `json:"at,omitempty"`
	// UpgradeDowngrade is the upgrade-downgrade test's record, which the
	// gates do not read.
	UpgradeDowngrade map[string]any `json:"upgradeDowngrade,omitempty"`
}

// LedgerEntry is one change's phases.
type LedgerEntry struct {
	Full    string `json:"full"`
	Canary  string `json:"canary"`
	Version string `json:"version,omitempty"`
}

// MaxLedgerBytes is the largest ledger read: an SSM String parameter's
// value (4 KB standard, 8 KB advanced tier).
const MaxLedgerBytes = 8 << 10

// ParseLedger reads a ledger strictly: one JSON document, no unknown,
// duplicate or case-variant keys (encoding/json kept the last of two
// "changes" and read "FULL" as "full"), at most MaxLedgerBytes. A ledger
// that does not read this way proves nothing prepared.
func ParseLedger(data []byte) (Ledger, error) {
	var l Ledger
	if len(data) > MaxLedgerBytes {
		return Ledger{}, errTooLargeLedger
	}
	if err := strictjson.Unmarshal(data, &l, "ledger"); err != nil {
		return Ledger{}, err
	}
	return l, nil
}

type ledgerError string

func (e ledgerError) Error() string { return string(e) }

const errTooLargeLedger = ledgerError("the ledger is larger than 8 KiB")
