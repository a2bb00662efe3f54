package twophase

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateChanges(t *testing.T) {
	p := Change{Name: "order-record-v2", Phase: ChangePrepare}
	cases := []struct {
		name    string
		changes []Change
		want    []string
	}{
		{"one change", []Change{p}, nil},
		{"none", nil, nil},
		{"prepare and activate in one release", []Change{p, {Name: p.Name, Phase: ChangeActivate}}, []string{`Changes[1].Name "order-record-v2" appears twice`}},
		{"bad fields, all at once", []Change{{Name: "", Phase: "maybe"}, {Name: "a/b", Phase: ChangePrepare}}, []string{`Changes[0].Name ""`, `Changes[0].Phase is "maybe"`, `Changes[1].Name "a/b"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate("Changes", c.changes)
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
	assert.Equal(t, "/safepipe/two-phase/orders-service/live", LedgerParameter("orders-service/live"))
	for _, ok := range []string{"orders-service/live", "orders", "a.b_c-d/live-2"} {
		assert.True(t, LedgerRE.MatchString(ok), ok)
	}
	for _, bad := range []string{"", "/x", "a/b/c", "a b", "a/", strings.Repeat("x", 129)} {
		assert.False(t, LedgerRE.MatchString(bad), bad)
	}
}
