package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckAlarmPeriods(t *testing.T) {
	for _, tc := range []struct {
		period, evals, dps int
		want               string
	}{
		{60, 5, 3, ""},
		{10, 8640, 1, ""},
		{3600, 168, 1, ""},
		{60, 1441, 1, "more than a day"},
		{3600, 169, 1, "more than seven days"},
		{60, 1 << 31, 1, "more than a day"},
		{45, 1, 1, "Period 45 is not 10, 20, 30 or a multiple of 60"},
		{0, 1, 1, "Period 0"},
		{60, 0, 1, "EvaluationPeriods 0"},
		{60, 3, 4, "DatapointsToAlarm 4 is not from 1 to EvaluationPeriods (3)"},
	} {
		err := CheckAlarmPeriods(tc.period, tc.evals, tc.dps)
		if tc.want == "" {
			assert.NoError(t, err, "%+v", tc)
		} else {
			assert.ErrorContains(t, err, tc.want, "%+v", tc)
		}
	}
}

func TestInteger(t *testing.T) {
	n, err := Integer("RunOrder", "3", MinRunOrder, MaxRunOrder)
	assert.NoError(t, err)
	assert.Equal(t, 3, n)
	for _, s := range []string{"0", "1000", "9223372036854775807", "x", "", "1e3", "-1"} {
		_, err := Integer("RunOrder", s, MinRunOrder, MaxRunOrder)
		assert.ErrorContains(t, err, "is not a whole number from 1 to 999", s)
	}
}
