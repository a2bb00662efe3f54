package twophase

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateChanges(t *testing.T) {
	p := Change{Ledger: "orders-service", Name: "order-record-v2", Phase: ChangePrepare}
	cases := []struct {
		name    string
		changes []Change
		want    []string
	}{
		{"one change", []Change{p}, nil},
		{"none", nil, nil},
		{"prepare and activate in one release", []Change{p, {Ledger: p.Ledger, Name: p.Name, Phase: ChangeActivate}}, []string{`Changes[1].Name "order-record-v2" appears twice`}},
		{"another ledger", []Change{{Ledger: "billing", Name: "x", Phase: ChangePrepare}}, []string{`Changes[0].Ledger is "billing" but the alias keeps ledger "orders-service"`}},
		{"bad fields, all at once", []Change{{Ledger: "a/b", Name: "", Phase: "maybe"}}, []string{`Ledger "a/b"`, `Name ""`, `Phase is "maybe"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate("Changes", "orders-service", c.changes)
			if len(c.want) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, s := range c.want {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
	assert.Equal(t, `{"a":"activate","b":"prepare"}`, Property([]Change{{Name: "b", Phase: ChangePrepare}, {Name: "a", Phase: ChangeActivate}}))
	assert.True(t, strings.HasPrefix(p.Parameter(), LedgerPrefix))
}
