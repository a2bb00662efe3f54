package sim

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/safepipe/safepipe/internal/strictjson"
)

// strictUnmarshalLoose decodes JSON that must be one document without
// duplicate keys, but may carry fields the simulator does not read.
func strictUnmarshalLoose(data []byte, v any) error {
	if err := strictjson.CheckKeys(data); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// ruleExpr is a parsed composite alarm rule.
//
// "The alarms specified in a composite alarm's rule expression can include
// metric alarms and other composite alarms." and the rule functions ALARM,
// OK, INSUFFICIENT_DATA, TRUE, FALSE with AND, OR, NOT and parentheses;
// "You can use either alarm names or ARNs to reference the other alarms
// that are to be evaluated."
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html).
// A composite alarm and its children are in one account and region
// (docs/aws-semantics.md Q8: cross-account membership is not documented).
type ruleExpr interface {
	eval(state func(AlarmKey) string) bool
	children(add func(AlarmKey))
}

type ruleConst bool

func (c ruleConst) eval(func(AlarmKey) string) bool { return bool(c) }
func (ruleConst) children(func(AlarmKey))           {}

type ruleState struct {
	state string
	key   AlarmKey
}

func (r ruleState) eval(state func(AlarmKey) string) bool { return state(r.key) == r.state }
func (r ruleState) children(add func(AlarmKey))           { add(r.key) }

type ruleOp struct {
	op   string // AND, OR, NOT
	args []ruleExpr
}

func (r ruleOp) eval(state func(AlarmKey) string) bool {
	switch r.op {
	case "NOT":
		return !r.args[0].eval(state)
	case "AND":
		for _, a := range r.args {
			if !a.eval(state) {
				return false
			}
		}
		return true
	default:
		for _, a := range r.args {
			if a.eval(state) {
				return true
			}
		}
		return false
	}
}

func (r ruleOp) children(add func(AlarmKey)) {
	for _, a := range r.args {
		a.children(add)
	}
}

// maxRuleLength is the AlarmRule limit (10,240 characters, see
// docs/aws-semantics.md Q8).
const maxRuleLength = 10240

type ruleParser struct {
	s     string
	i     int
	place Place
	depth int
}

func parseAlarmRule(s string, place Place) (ruleExpr, error) {
	if len(s) > maxRuleLength {
		return nil, fmt.Errorf("alarm rule is %d characters (at most %d)", len(s), maxRuleLength)
	}
	p := &ruleParser{s: s, place: place}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("alarm rule %q: unexpected %q at %d", s, p.s[p.i:], p.i)
	}
	return e, nil
}

func (p *ruleParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *ruleParser) word(w string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.i:], w) {
		end := p.i + len(w)
		if end == len(p.s) || !isWordByte(p.s[end]) {
			p.i = end
			return true
		}
	}
	return false
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

func (p *ruleParser) or() (ruleExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	args := []ruleExpr{l}
	for p.word("OR") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		args = append(args, r)
	}
	if len(args) == 1 {
		return l, nil
	}
	return ruleOp{op: "OR", args: args}, nil
}

func (p *ruleParser) and() (ruleExpr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	args := []ruleExpr{l}
	for p.word("AND") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		args = append(args, r)
	}
	if len(args) == 1 {
		return l, nil
	}
	return ruleOp{op: "AND", args: args}, nil
}

func (p *ruleParser) unary() (ruleExpr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 64 {
		return nil, fmt.Errorf("alarm rule nested deeper than 64")
	}
	if p.word("NOT") {
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return ruleOp{op: "NOT", args: []ruleExpr{e}}, nil
	}
	if p.word("TRUE") {
		return ruleConst(true), nil
	}
	if p.word("FALSE") {
		return ruleConst(false), nil
	}
	for _, st := range []string{"ALARM", "OK", "INSUFFICIENT_DATA"} {
		if p.word(st) {
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != '(' {
				return nil, fmt.Errorf("%s must be followed by (", st)
			}
			p.i++
			p.space()
			var name string
			if p.i < len(p.s) && p.s[p.i] == '"' {
				end := strings.IndexByte(p.s[p.i+1:], '"')
				if end < 0 {
					return nil, fmt.Errorf("unterminated alarm name")
				}
				name = p.s[p.i+1 : p.i+1+end]
				p.i += end + 2
			} else {
				end := strings.IndexByte(p.s[p.i:], ')')
				if end < 0 {
					return nil, fmt.Errorf("unterminated %s(", st)
				}
				name = strings.TrimSpace(p.s[p.i : p.i+end])
				p.i += end
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ')' {
				return nil, fmt.Errorf("%s(%s: missing )", st, name)
			}
			p.i++
			return ruleState{state: st, key: alarmRef(name, p.place)}, nil
		}
	}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, fmt.Errorf("missing )")
		}
		p.i++
		return e, nil
	}
	return nil, fmt.Errorf("unexpected %q at %d", p.s[p.i:], p.i)
}

// alarmRef reads an alarm name or ARN (arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME).
func alarmRef(s string, place Place) AlarmKey {
	if strings.HasPrefix(s, "arn:") {
		parts := strings.SplitN(s, ":", 7)
		if len(parts) == 7 && parts[5] == "alarm" {
			return AlarmKey{Account: parts[4], Region: parts[3], Name: parts[6]}
		}
	}
	return AlarmKey{Account: place.Account, Region: place.Region, Name: s}
}
