package gates

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// ledgerWorld adds the two-phase ledgers to the fake world.
type ledgerWorld struct {
	*world
	ledgers map[Place]map[string]string
	err     error
}

func (w *ledgerWorld) Ledger(_ context.Context, p Place, parameter string) (string, bool, error) {
	if w.err != nil {
		return "", false, w.err
	}
	v, ok := w.ledgers[p][parameter]
	return v, ok, nil
}

func TestPrepared(t *testing.T) {
	const param = "/safepipe/two-phase/svc"
	prepared := `{"changes":{"order-record-v2":{"full":"prepare","canary":"none"}}}`
	cfg := func() *Config {
		c := config()
		for i := range c.Stages {
			for _, p := range []Place{euw1, use1} {
				c.Stages[i].Prepared = append(c.Stages[i].Prepared, Requirement{Account: p.Account, Region: p.Region, Role: p.Role, Parameter: param, Change: "order-record-v2"})
			}
		}
		return c
	}
	cases := []struct {
		name    string
		ledgers map[Place]map[string]string
		err     error
		plain   bool // the observer cannot read ledgers
		blocked string
	}{
		{name: "every target prepared", ledgers: map[Place]map[string]string{euw1: {param: prepared}, use1: {param: prepared}}},
		{name: "already active somewhere", ledgers: map[Place]map[string]string{euw1: {param: strings.Replace(prepared, `"full":"prepare"`, `"full":"activate"`, 1)}, use1: {param: prepared}}},
		{name: "one region's one-box only", ledgers: map[Place]map[string]string{euw1: {param: prepared}, use1: {param: `{"changes":{"order-record-v2":{"full":"none","canary":"prepare"}}}`}},
			blocked: `change "order-record-v2" is not prepared in account 333333333333, region us-east-1 (all traffic runs full=none, the share canary=prepare)`},
		{name: "a region the prepare never reached", ledgers: map[Place]map[string]string{euw1: {param: prepared}},
			blocked: `ledger /safepipe/two-phase/svc does not exist in account 333333333333, region us-east-1`},
		{name: "another change only", ledgers: map[Place]map[string]string{euw1: {param: prepared}, use1: {param: `{"changes":{"x":{"full":"prepare"}}}`}},
			blocked: `change "order-record-v2" is not prepared in account 333333333333, region us-east-1`},
		{name: "a garbled ledger fails closed", ledgers: map[Place]map[string]string{euw1: {param: prepared}, use1: {param: `{"changes":`}},
			blocked: "cannot be read"},
		{name: "an unreadable ledger fails closed", err: errors.New("AccessDenied"), blocked: "cannot be read (AccessDenied)"},
		{name: "an observer without ledgers fails closed", plain: true, blocked: "cannot read two-phase ledgers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o Observer = &ledgerWorld{world: healthy(), ledgers: c.ledgers, err: c.err}
			if c.plain {
				o = healthy()
			}
			for _, stage := range []string{"Gamma", "Prod-W1"} {
				d := decision(t, Evaluate(context.Background(), cfg(), o, open), stage)
				if c.blocked == "" {
					assert.False(t, d.EntryBlocked, "%v", d.EntryReasons)
					continue
				}
				assert.True(t, d.EntryBlocked)
				assert.Contains(t, strings.Join(d.EntryReasons, "\n"), c.blocked)
			}
		})
	}
}
